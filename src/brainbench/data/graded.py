"""Graded datasets built at load time: a recipe shipped with brainbench says which number of which abstract of a
published dataset becomes the ``{value}`` slot, and the grid of values; the abstracts come from the local copy of
that dataset (mirror -> cache -> download), so no abstract text is shipped. ``graded/README.md`` says how the
shipped recipe was made.

A recipe line (JSON)::

    {"item_id": 111, "doi": "10.1523/...", "subfield": "Behavioral/Cognitive", "number": "66 ms", "occurrence": 0,
     "values": ["40 ms", "66 ms", ...], "numeric": [40, 66, ...], "answer": 1, "unit": "ms",
     "what": "what the number is (and whether the item's BrainBench edit touches it)",
     "grid": "how the grid was chosen"}

``item_id`` is the row of the base file; ``number`` is the exact text replaced, its ``occurrence``-th appearance
(from 0) in the row's ``original_abstract``. ``check_recipe_line`` holds every rule a line must pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from brainbench.data.cases import Problem, Severity, TestCase, case_from_row, parse_combined
from brainbench.data.catalog import DATASETS, GradedSpec
from brainbench.data.fetch import resolve_dataset_file
from brainbench.data.files import Dataset, decode_utf8, read_rows, require_scorable
from brainbench.data.grid import NUMBER_WORDS, SLOT
from brainbench.errors import InputError

RECIPE_FIELDS = {
    "item_id": int,
    "doi": str,
    "subfield": str,
    "number": str,
    "occurrence": int,
    "values": list,
    "numeric": list,
    "answer": int,
    "unit": str,
    "what": str,
    "grid": str,
}
RECIPE_GRID_SIZES = range(5, 8)  # the shipped recipe's grids: 5-7 values
EDIT_NOTE = "the number itself is the brainbench edit"  # what `what` says when the slot is the item's edit
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def recipe_path(spec: GradedSpec) -> Path:
    return Path(str(resources.files("brainbench.data") / "graded" / spec.recipe))


def read_recipe(text: str, source: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """(line, recipe entry) for each JSON line of a recipe, and the lines that are not JSON objects."""
    entries, problems = [], []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(Problem(source, line, f"not valid JSON ({error.msg} at column {error.colno})"))
            continue
        if not isinstance(entry, dict):
            problems.append(Problem(source, line, "expected a JSON object per line"))
            continue
        entries.append((line, entry))
    return entries, problems


def _sentence_bounds(text: str, position: int) -> tuple[int, int]:
    """The sentence around ``position`` (split at '. ' and '; ', which is right for the abstracts used)."""
    start = max(text.rfind(". ", 0, position), text.rfind("; ", 0, position)) + 1
    ends = [found for found in (text.find(". ", position), text.find("; ", position)) if found >= 0]
    return start, min(ends or [len(text)])


def _shape(value: str) -> str:
    return _DIGITS.sub("#", value)


def check_recipe_line(entry: dict[str, Any], base: dict[str, str]) -> tuple[str | None, list[str]]:
    """(the abstract with its slot, the problems) of one recipe entry against its base row. The slot replaces
    the entry's number exactly where the recipe says; the values keep the number's format; ``what`` says
    whether the number is the item's BrainBench edit, and mentions an edit in the same sentence."""
    problems: list[str] = []
    if entry["doi"] not in (base.get("doi"), (base.get("doi") or "").removeprefix("https://doi.org/")):
        problems.append(f"doi {entry['doi']} is not row {entry['item_id']}'s {base.get('doi')}")
    if entry["subfield"] != base.get("journal_section"):
        problems.append(
            f"subfield {entry['subfield']!r} is not row {entry['item_id']}'s {base.get('journal_section')!r}"
        )
    abstract, number, occurrence = base.get("original_abstract") or "", entry["number"], entry["occurrence"]
    if SLOT in abstract:
        return None, [*problems, f"the abstract already holds {SLOT}"]
    starts = [match.start() for match in re.finditer(f"(?={re.escape(number)})", abstract)]
    if not 0 <= occurrence < len(starts):
        return None, [*problems, f"{number!r} occurs {len(starts)} time(s) in the abstract, no occurrence {occurrence}"]
    position = starts[occurrence]
    apart = [match.start() for match in re.finditer(re.escape(number), abstract)]
    if occurrence >= len(apart) or apart[occurrence] != position:
        problems.append(
            f"occurrence {occurrence} of {number!r} differs when the appearances overlap: say which with another number"
        )
    before, after = abstract[position - 1 : position], abstract[position + len(number) : position + len(number) + 2]
    if re.match(r"[\d.]", before) or re.match(r"\d|\.\d", after):
        problems.append(f"{number!r} is part of a longer number ({before}{number}{after})")
    values, numeric, answer = entry["values"], entry["numeric"], entry["answer"]
    if len(values) not in RECIPE_GRID_SIZES:
        problems.append(
            f"{len(values)} values; the recipe's grids have {RECIPE_GRID_SIZES.start}-{RECIPE_GRID_SIZES.stop - 1}"
        )
    if 0 <= answer < len(values) and values[answer] != number:
        problems.append(f"values[answer] is {values[answer]!r}, not the number {number!r}")
    if number.lower() in NUMBER_WORDS:
        problems += [
            f"value {value!r} is not the number word for {x}"
            for value, x in zip(values, numeric)
            if not isinstance(value, str) or NUMBER_WORDS.get(value.lower()) != x
        ]
    else:
        problems += [
            f"value {value!r} is not written like {number!r}"
            for value in values
            if not isinstance(value, str) or _shape(value) != _shape(number)
        ]
    problems += _edit_note_problems(entry, base, position, len(number))
    return abstract[:position] + SLOT + abstract[position + len(number) :], problems


def _edit_note_problems(entry: dict[str, Any], base: dict[str, str], position: int, length: int) -> list[str]:
    """``what`` must say when the number is the item's BrainBench edit, and mention an edit in its sentence."""
    parsed = parse_combined(base.get("combined_abstract") or "")
    if parsed.errors or parsed.original != base.get("original_abstract"):
        return []  # the edits' places are not known in this text
    spans = [(edit.original_start, edit.original_start + len(edit.original)) for edit in parsed.edits]
    what = entry["what"].lower()
    is_edit = any(start < position + length and position < end for start, end in spans)
    sentence_start, sentence_end = _sentence_bounds(base["original_abstract"], position)
    edit_in_sentence = any(start < sentence_end and sentence_start < end for start, end in spans)
    problems = []
    if is_edit != (EDIT_NOTE in what):
        problems.append(
            "the number is the item's BrainBench edit but `what` does not say so"
            if is_edit
            else "`what` says the number is the item's BrainBench edit, but it is not"
        )
    if edit_in_sentence != ("edit" in what):
        problems.append(
            "an edit is in the number's sentence but `what` does not mention it"
            if edit_in_sentence
            else "`what` mentions an edit in the number's sentence, but none is there"
        )
    return problems


def graded_rows(
    entries: list[tuple[int, dict[str, Any]]], base_rows: list[dict[str, str]], source: str
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """(recipe line, graded row) for each entry that passes ``check_recipe_line``, and every problem found."""
    rows, problems, seen = [], [], {}
    for line, entry in entries:

        def report(reason: str, severity: Severity = "error", line: int = line) -> None:
            problems.append(Problem(source, line, reason, severity))

        mistyped = [
            name
            for name, kind in RECIPE_FIELDS.items()
            if not isinstance(entry.get(name), kind) or isinstance(entry.get(name), bool)
        ]
        if mistyped:
            report(f"missing or mistyped field(s) {', '.join(mistyped)}")
            continue
        if not 0 <= entry["item_id"] < len(base_rows):
            report(f"item_id {entry['item_id']} is not a row of the base file (0-{len(base_rows) - 1})")
            continue
        key = (entry["item_id"], entry["number"], entry["occurrence"])
        if key in seen:
            report(f"the same number as line {seen[key]} (item {key[0]}, {key[1]!r}, occurrence {key[2]})")
            continue
        seen[key] = line
        base = base_rows[entry["item_id"]]
        text, entry_problems = check_recipe_line(entry, base)
        for reason in entry_problems:
            report(reason)
        if text is None or entry_problems:
            continue
        rows.append(
            (
                line,
                {
                    "doi": base["doi"],
                    "journal_section": base["journal_section"],
                    "text": text,
                    "values": entry["values"],
                    "numeric": entry["numeric"],
                    "answer": entry["answer"],
                    "unit": entry["unit"],
                    "source_item_id": entry["item_id"],
                },
            )
        )
    return rows, problems


def graded_jsonl(rows: list[tuple[int, dict[str, Any]]]) -> str:
    """The built rows as a JSONL text (what a run's dataset sha256 is taken of)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for _, row in rows)


def build_graded(
    spec: GradedSpec, recipe_text: str, base_text: str, *, recipe_name: str, base_name: str, path: Path | None = None
) -> Dataset:
    """The graded dataset from a recipe's text and its base file's text, with every problem found. Pure."""
    entries, problems = read_recipe(recipe_text, recipe_name)
    _, base, base_problems = read_rows(base_text, base_name, "csv")
    if base_problems:
        raise InputError(base_name, base_problems[0].line, base_problems[0].reason)
    rows, recipe_problems = graded_rows(entries, [row for _, row in base], recipe_name)
    problems += recipe_problems
    cases: list[TestCase] = []
    for item_id, (line, row) in enumerate(rows):
        as_text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in row.items()}
        case, row_problems = case_from_row(
            as_text, item_id=item_id, line=line, source_name=recipe_name, case_source="graded"
        )
        problems += row_problems
        if case is not None:
            cases.append(case)
    sha256 = hashlib.sha256(graded_jsonl(rows).encode("utf-8")).hexdigest()
    return Dataset(
        name=spec.name,
        path=path or Path(recipe_name),
        sha256=sha256,
        source="graded",
        texts="released",
        n_rows=len(entries),
        cases=tuple(cases),
        problems=tuple(problems),
    )


def inspect_graded(spec: GradedSpec, *, data_dir: Path | None, cache_dir: Path, offline: bool = False) -> Dataset:
    """The shipped recipe of ``spec`` built on a verified local copy of its base dataset, with every problem
    (``brainbench validate brainbench-graded``)."""
    recipe = recipe_path(spec)
    base = resolve_dataset_file(DATASETS[spec.base], data_dir=data_dir, cache_dir=cache_dir, offline=offline)
    return build_graded(
        spec,
        recipe.read_text(encoding="utf-8"),
        decode_utf8(base.read_bytes(), str(base)),
        recipe_name=recipe.name,
        base_name=base.name,
        path=recipe,
    )


def load_graded(spec: GradedSpec, *, data_dir: Path | None, cache_dir: Path, offline: bool = False) -> Dataset:
    """``inspect_graded``, refusing a recipe with a case that does not load."""
    return require_scorable(inspect_graded(spec, data_dir=data_dir, cache_dir=cache_dir, offline=offline))
