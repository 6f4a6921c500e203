"""Test cases: parse the combined ``[[original, altered]]`` format and validate rows.

A BrainBench row holds one abstract in which every edit is written as ``[[original, altered]]``,
or, for a case with N >= 2 versions of its results, ``[[original | alternative 1 | alternative 2]]``
(``|`` between options; the first is the real one; every edit of a case has the same N). New files
should write pairs with ``|`` too: a comma cannot separate options that contain commas. A JSONL
row may instead give the N full texts as ``"options": [...]`` with ``"answer"``: the real one's index;
a graded row gives a ``text`` with one ``{value}`` slot and a grid of ``values`` (``brainbench.data.grid``).
The paper's parser (``extract_abstract_pair`` in the authors' code) found edits with the regex
``\\[\\[(.*?)\\]\\]``, split each on every comma and kept the first two pieces; the released
``original_abstract`` / ``incorrect_abstract`` columns were made by it and carry its errors:
options that contain commas are cut, and a ``[[a, b]`` with one closing bracket garbles the text.

This module parses the combined text properly, reports every such problem as
``file:line: reason`` and proposes the most plausible reading. Parsing is pure (text in, records
out); ``load_cases`` in ``brainbench.data.files`` opens files.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from brainbench.data.grid import SLOT, Grid, grid_from_row

Severity = Literal["error", "warning"]
TextsMode = Literal["released", "reparsed"]

REQUIRED_COLUMNS = ("doi", "journal_section", "combined_abstract")  # or "options" instead of combined_abstract
RELEASED_COLUMNS = ("original_abstract", "incorrect_abstract")
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Edit:
    """One changed span: its text in each version (the real one first) and where it starts in each version."""

    options: tuple[str, ...]
    starts: tuple[int, ...]

    @property
    def original(self) -> str:
        return self.options[0]

    @property
    def altered(self) -> str:
        return self.options[1]

    @property
    def original_start(self) -> int:
        return self.starts[0]

    @property
    def altered_start(self) -> int:
        return self.starts[1]


@dataclass(frozen=True, slots=True)
class TestCase:
    """One test case: N >= 2 versions of an abstract (the texts that get scored), the real one first."""

    __test__ = False  # not a pytest test class

    item_id: int  # CSV row index, 0-based (or the file's own item_id column)
    doi: str
    subfield: str  # the journal_section
    source: str  # "human", "gpt4" or a user label
    options: tuple[str, ...]  # options[0] is the published abstract; the others were altered
    edits: tuple[Edit, ...]
    line: int  # where the row starts in its file, for messages
    combined: str = ""  # the row's combined_abstract, with its [[original, altered]] edits
    grid: Grid | None = (
        None  # a graded case's values (brainbench.data.grid); version k holds values[grid.version_order()[k]]
    )

    @property
    def original(self) -> str:
        return self.options[0]

    @property
    def altered(self) -> str:
        """The (first) altered version."""
        return self.options[1]

    @property
    def n_options(self) -> int:
        return len(self.options)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with an input file, rendered as ``file:line: reason``."""

    source: str
    line: int | None
    reason: str
    severity: Severity = "error"
    row: int | None = None  # 0-based data row (the item id in the published files)

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        row = f"row {self.row}: " if self.row is not None else ""
        return f"{where}: {self.severity}: {row}{self.reason}"


@dataclass(slots=True)
class ParsedAbstract:
    """The result of reading one combined text: every version (the real one first), the edits and what looked wrong."""

    versions: tuple[str, ...]
    edits: list[Edit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # no trustworthy reading
    repairs: list[str] = field(default_factory=list)  # malformed, but a plausible reading was chosen
    warnings: list[str] = field(default_factory=list)  # ambiguous; the most plausible reading was chosen

    @property
    def original(self) -> str:
        return self.versions[0]

    @property
    def altered(self) -> str:
        return self.versions[1] if len(self.versions) > 1 else self.versions[0]


def paper_parse(combined: str) -> tuple[str, str]:
    """The authors' parser, reproduced exactly: regex, split on every comma, keep pieces 0 and 1.

    Used to check that released columns are what the paper scored; never to build new texts.
    """
    original, altered = combined, combined
    for match in re.findall(r"\[\[(.*?)\]\]", combined):
        items = match.split(",")
        original = original.replace("[[" + match + "]]", items[0].strip())
        altered = altered.replace("[[" + match + "]]", items[1].strip() if len(items) > 1 else "")
    return original, altered


def mirror_score(first: str, second: str) -> float:
    """How well two options mirror each other: word-sequence similarity plus matching capitalisation.

    A real edit swaps a few words inside the same phrasing ("Cav2.2, but not Cav2.3" vs
    "Cav2.3, but not Cav2.2"), so the right split of a comma-laden pair maximises this.
    """
    words_a = _WORD.findall(first.lower())
    words_b = _WORD.findall(second.lower())
    ratio = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()
    same_case = bool(first) and bool(second) and first[0].isupper() == second[0].isupper()
    return ratio + (0.5 if same_case else 0.0)


def split_options(inner: str) -> tuple[list[tuple[str, ...]], tuple[str, ...] | None]:
    """All readings of ``inner`` as options, and the most plausible one: split on every ``|`` (one
    reading, any N), else into two at one of its commas (the most mirrored split)."""
    if "|" in inner:
        options = tuple(piece.strip() for piece in inner.split("|"))
        return [options], options
    pieces = inner.split(",")
    readings = [(",".join(pieces[:k]).strip(), ",".join(pieces[k:]).strip()) for k in range(1, len(pieces))]
    if not readings:
        return [], None
    best = max(readings, key=lambda pair: mirror_score(*pair))  # max keeps the first of equals
    return readings, best


def _reads_as_a_list(option: str) -> bool:
    """Whether an option holds commas between single words ('a, b'), as options written with ',' would."""
    pieces = [piece.strip() for piece in option.split(",")]
    return len(pieces) > 1 and all(piece and " " not in piece for piece in pieces)


def _show(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_combined(combined: str) -> ParsedAbstract:
    """Read a combined abstract into its versions (the real one first).

    Each ``[[`` must be closed by ``]]`` before the next ``[[``. A ``[[`` closed by a single
    ``]`` is repaired (read as if ``]]``) and reported; one never closed is an error. Every edit
    must offer the same number of options.
    """
    parts: list[list[str]] = []  # per version, its pieces so far
    lengths: list[int] = []  # per version, its length so far
    plains: list[str] = []  # the text between edits
    parsed = ParsedAbstract(versions=())
    pos = 0
    while (start := combined.find("[[", pos)) >= 0:
        body = start + 2
        close, close_len = combined.find("]]", body), 2
        next_open = combined.find("[[", body)
        if close < 0 or 0 <= next_open < close:
            limit = next_open if next_open >= 0 else len(combined)
            single = combined.find("]", body, limit)
            if single < 0:
                parsed.errors.append(f"'[[' at character {start} is never closed (expected [[original, altered]])")
                break
            close, close_len = single, 1
            parsed.repairs.append(
                f"unbalanced brackets: '[[' at character {start} is closed by a single ']'; "
                f"read as [[{_show(combined[body:close])}]]"
            )
        inner = combined[body:close]
        readings, best = split_options(inner)
        if best is None:
            parsed.errors.append(
                f"'[[{_show(inner)}]]' holds 1 option, expected 2 as [[original, altered]] (or N as [[a | b | c]])"
            )
            best = (inner.strip(), inner.strip())
        else:
            listed = [option for option in best if "|" in inner and _reads_as_a_list(option)]
            if listed:
                parsed.warnings.append(
                    f"'[[{_show(inner, 80)}]]' mixes '|' and ',': read as the {len(best)} options "
                    f"[[{' | '.join(best)}]], though {listed[0]!r} reads like options of its own (write every "
                    "option with '|', or keep a comma inside a phrase)"
                )
            if len(readings) > 1:
                naive = paper_parse(f"[[{inner}]]")
                parsed.warnings.append(
                    f"options contain commas, {len(readings)} possible splits of '[[{_show(inner, 80)}]]'; "
                    f"the paper's parser read [[{_show(naive[0], 40)} | {_show(naive[1], 40)}]]; "
                    f"most plausible: [[{' | '.join(best)}]] (write options with '|' to say which)"
                )
            if not all(best):
                parsed.errors.append(f"empty option in '[[{_show(inner)}]]'")
            elif len(set(best)) < len(best):
                what = "the edit changes nothing" if len(set(best)) == 1 else "two options are the same"
                parsed.errors.append(f"identical options in '[[{_show(inner)}]]': {what}")
        if parts and len(best) != len(parts):
            parsed.errors.append(
                f"'[[{_show(inner)}]]' has {len(best)} options, but the case's first edit has {len(parts)}: every edit "
                "needs the same number"
            )
            break
        if not parts:  # the first edit decides N
            parts, lengths = [[] for _ in best], [0] * len(best)
        plain = combined[pos:start]
        plains.append(plain)
        for version, option in enumerate(best):
            parts[version] += [plain, option]
        parsed.edits.append(Edit(tuple(best), tuple(length + len(plain) for length in lengths)))
        lengths = [length + len(plain) + len(option) for length, option in zip(lengths, best)]
        pos = close + close_len
    tail = combined[pos:]
    if not parsed.edits and not parsed.errors:
        parsed.errors.append("no edit found: expected at least one [[original, altered]]")
    stray = sum(plain.count("]]") for plain in [*plains, tail])
    if stray and not parsed.errors:
        parsed.warnings.append(f"{stray} stray ']]' outside any edit")
    parsed.versions = tuple("".join(pieces) + tail for pieces in parts) if parts else (combined, combined)
    return parsed


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def options_from_row(row: dict[str, str], report: Callable[[str], None]) -> tuple[str, ...] | None:
    """The N full texts of a row that gives them as ``options`` (a JSON list) with ``answer`` (the real
    one's index, default 0), the real one first; None (with a reported reason) if they are unusable."""
    try:
        options = json.loads(row["options"])
    except json.JSONDecodeError as error:
        report(f"'options' is not a JSON list ({error.msg})")
        return None
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(option, str) for option in options):
        report("'options' must be a list of 2 or more texts")
        return None
    answer_text = (row.get("answer") or "0").strip()
    if not answer_text.isdigit() or int(answer_text) >= len(options):
        report(f"'answer' {answer_text!r} is not the index of one of the {len(options)} options")
        return None
    if not all(option.strip() for option in options):
        report("empty option in 'options'")
        return None
    if len(set(options)) < len(options):
        report("identical options in 'options': two versions are the same")
        return None
    answer = int(answer_text)
    return (options[answer], *options[:answer], *options[answer + 1 :])


def case_from_row(
    row: dict[str, str],
    *,
    item_id: int,
    line: int,
    source_name: str,
    row_index: int | None = None,
    case_source: str,
    texts: TextsMode = "released",
) -> tuple[TestCase | None, list[Problem]]:
    """Turn one row into a TestCase (None if it cannot be scored) and the problems found in it.

    ``texts="released"`` scores the row's ``original_abstract`` / ``incorrect_abstract`` when the
    file has them (as the paper did); ``"reparsed"`` always scores the reading of ``combined_abstract``.
    A row with ``options`` (a JSON list of full texts) and ``answer`` needs no combined text, nor does a graded
    row (``text`` with a ``{value}`` slot, ``values``, ``numeric``, ``answer``; ``subfield`` may name the
    journal_section).
    """
    problems: list[Problem] = []

    def report(reason: str, severity: Severity = "error") -> None:
        problems.append(Problem(source_name, line, reason, severity, row=item_id if row_index is None else row_index))

    if "journal_section" not in row and "subfield" in row:  # graded files name it subfield
        row = {**row, "journal_section": row["subfield"]}
    for column in ("doi", "journal_section"):
        if not (row.get(column) or "").strip():
            report(f"'{column}' is {'empty' if column in row else 'missing'}", "warning")
    if "values" in row:
        return graded_case(row, item_id, line, case_source, report), problems
    if (row.get("options") or "").strip():
        options = options_from_row(row, report)
        if options is None:
            return None, problems
        return _case(row, item_id, line, case_source, options, (), row.get("combined_abstract") or ""), problems
    if not (row.get("combined_abstract") or "").strip():
        report(f"'combined_abstract' is {'empty' if 'combined_abstract' in row else 'missing'}")
    combined = row.get("combined_abstract") or ""
    parsed = parse_combined(combined) if combined.strip() else None
    if parsed is not None:
        for reason in parsed.errors + parsed.repairs:
            report(reason, "error")
        for reason in parsed.warnings:
            report(reason, "warning")

    released = tuple((row.get(column) or "") for column in RELEASED_COLUMNS)
    has_released = all(text.strip() for text in released) and (parsed is None or len(parsed.versions) == 2)
    if has_released and released[0] == released[1]:
        report("'original_abstract' and 'incorrect_abstract' are identical", "error")
        has_released = False
    if has_released and parsed is not None and not parsed.errors:
        for column, given, reparsed in zip(RELEASED_COLUMNS, released, parsed.versions):
            if given != reparsed:
                at = _first_difference(given, reparsed)
                report(
                    f"'{column}' differs from the reparsed combined_abstract at character {at} "
                    f"({_show(given[at : at + 30], 30)!r} vs {_show(reparsed[at : at + 30], 30)!r})",
                    "warning",
                )

    if texts == "released" and has_released:
        options = released
    elif parsed is not None and not parsed.errors:
        options = parsed.versions
    else:
        return None, problems
    edits = tuple(parsed.edits) if parsed is not None and not parsed.errors else ()
    return _case(row, item_id, line, case_source, options, edits, combined), problems


def graded_case(
    row: dict[str, str], item_id: int, line: int, case_source: str, report: Callable[[str, Severity], None]
) -> TestCase | None:
    """A graded row (``text`` with one slot, ``values``, ``numeric``, ``answer``) as a TestCase whose versions are the
    text with each value in the slot, the real one first; its one edit is the slot."""
    read = grid_from_row(row, report)
    if read is None:
        return None
    text, grid = read
    values = grid.versions()
    options = tuple(text.replace(SLOT, value) for value in values)
    edit = Edit(values, (text.index(SLOT),) * len(values))
    return _case(row, item_id, line, case_source, options, (edit,), grid.combined(text), grid)


def _case(
    row: dict[str, str],
    item_id: int,
    line: int,
    case_source: str,
    options: tuple[str, ...],
    edits: tuple[Edit, ...],
    combined: str,
    grid: Grid | None = None,
) -> TestCase:
    return TestCase(
        item_id=item_id,
        doi=(row.get("doi") or "").strip(),
        subfield=(row.get("journal_section") or "").strip(),
        source=case_source,
        options=tuple(options),
        edits=edits,
        line=line,
        combined=combined,
        grid=grid,
    )
