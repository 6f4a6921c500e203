"""A planned study for ``brainbench predict``: its background and methods, and two or more candidate results,
either texts or one sentence with a ``{value}`` slot and the values it may take.

Markdown (headings name the parts; list items are the outcomes, or, under a sentence with a slot, its values)::

    # Optional title
    ## Background
    ...
    ## Methods
    ...
    ## Outcomes
    - Silencing the projection reduced freezing.
    - Silencing the projection left freezing unchanged.

or, graded::

    ## Outcomes
    Silencing the projection reduced freezing by {value}.

    - 10%
    - 30%
    - 60%

JSON or YAML: ``{"background": ..., "methods": ..., "outcomes": [...]}``, or ``"outcome"`` (the sentence with the
slot) with ``"values"`` and optional ``"numeric"`` (each value as a number, lowest first; else read from the
values) and ``"unit"``. Parsing is pure; ``load_study`` opens the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.data.files import decode_utf8
from brainbench.data.grid import SLOT, check_numeric, number_in
from brainbench.errors import InputError

SECTIONS = {
    "background": "background",
    "introduction": "background",
    "methods": "methods",
    "method": "methods",
    "design": "methods",
    "outcomes": "outcomes",
    "outcome": "outcomes",
    "results": "outcomes",
    "result": "outcomes",
    "candidate results": "outcomes",
    "possible results": "outcomes",
}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")


@dataclass(frozen=True, slots=True)
class PlannedStudy:
    """A study not yet run: what the model reads first, and the outcomes it weighs."""

    background: str
    methods: str
    outcomes: tuple[
        str, ...
    ]  # each candidate result as it ends the text (a graded study: the sentence with each value)
    labels: tuple[str, ...]  # how each outcome is shown: its text, or its value
    title: str = ""
    numeric: tuple[float, ...] | None = None  # a graded study: each value as a number, lowest first
    unit: str = ""

    @property
    def graded(self) -> bool:
        return self.numeric is not None

    def texts(self) -> tuple[str, ...]:
        """The abstract-like text of each outcome: background, methods and that outcome, one paragraph."""
        return tuple(
            " ".join(part for part in (self.background, self.methods, outcome) if part) for outcome in self.outcomes
        )


def build_study(parts: dict[str, Any], source: str, line_of: dict[str, int | None] | None = None) -> PlannedStudy:
    """A PlannedStudy from its parts (background, methods, outcomes, or outcome + values [+ numeric, unit]); a missing
    or unusable part raises InputError naming ``source`` (and the line, where ``line_of`` knows it)."""
    line_of = line_of or {}

    def fail(part: str, reason: str) -> InputError:
        return InputError(source, line_of.get(part), reason)

    known = {"title", "background", "methods", "outcomes", "outcome", "values", "numeric", "unit"}
    unknown = sorted(set(parts) - known)
    if unknown:
        raise fail("", f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    texts = {}
    for part in ("title", "background", "methods", "outcome", "unit"):
        value = parts.get(part) or ""
        if not isinstance(value, str):
            raise fail(part, f"'{part}' must be text")
        texts[part] = " ".join(value.split())
    for part in ("background", "methods"):
        if not texts[part]:
            raise fail(part, f"no {part}: the model predicts from the study's background and methods")
    if parts.get("outcomes") and (texts["outcome"] or parts.get("values")):
        raise fail(
            "outcomes", "give either outcomes (texts) or one outcome with a {value} slot and its values, not both"
        )
    if texts["outcome"] or parts.get("values"):
        return _graded_study(texts, parts, fail)
    outcomes = parts.get("outcomes")
    if not isinstance(outcomes, list) or not all(isinstance(outcome, str) for outcome in outcomes):
        raise fail(
            "outcomes",
            "no outcomes: give two or more candidate results (a list of texts), or one with a {value} slot and values",
        )
    outcomes = [" ".join(outcome.split()) for outcome in outcomes]
    _check_distinct(outcomes, "outcome", fail)
    return PlannedStudy(texts["background"], texts["methods"], tuple(outcomes), tuple(outcomes), texts["title"])


def _check_distinct(items: list[str], what: str, fail: Any) -> None:
    part = "outcomes" if what == "outcome" else "values"
    if len(items) < 2:
        raise fail(part, f"{len(items)} {what}(s): give at least two to choose between")
    if not all(items):
        raise fail(part, f"an empty {what}")
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise fail(part, f"the {what} {repeated[0]!r} is given twice")


def _graded_study(texts: dict[str, str], parts: dict[str, Any], fail: Any) -> PlannedStudy:
    sentence = texts["outcome"]
    if sentence.count(SLOT) != 1:
        raise fail(
            "outcome", f"the outcome needs exactly one {SLOT} slot for the values (it has {sentence.count(SLOT)})"
        )
    values = parts.get("values")
    if not isinstance(values, list) or not all(isinstance(value, str | int | float) for value in values):
        raise fail("values", f'no values for the {SLOT} slot: give a list, e.g. ["10%", "30%", "60%"]')
    values = [str(value).strip() for value in values]
    _check_distinct(values, "value", fail)
    numeric = parts.get("numeric")
    if numeric is None:
        numeric = [number_in(value) for value in values]
        unread = [value for value, number in zip(values, numeric) if number is None]
        if unread:
            raise fail(
                "values",
                f"value {unread[0]!r} holds no number to average over: give 'numeric' (JSON/YAML), or list the "
                "outcomes as texts",
            )
    problems: list[str] = []
    if not isinstance(numeric, list) or not check_numeric(numeric, len(values), problems.append):
        raise fail("values", problems[0] if problems else "'numeric' must be a list of numbers")
    outcomes = tuple(sentence.replace(SLOT, value) for value in values)
    return PlannedStudy(
        texts["background"],
        texts["methods"],
        outcomes,
        tuple(values),
        texts["title"],
        tuple(float(x) for x in numeric),
        texts["unit"],
    )


def parse_markdown(text: str, source: str) -> PlannedStudy:
    """A study written in Markdown (see the module docstring)."""
    parts: dict[str, Any] = {}
    line_of: dict[str, int | None] = {}
    section: str | None = None
    paragraphs: dict[str, list[str]] = {}
    items: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            name = heading.group(2).strip().rstrip(":").lower()
            if len(heading.group(1)) == 1 and "title" not in parts and section is None:
                parts["title"] = heading.group(2).strip()
                continue
            if name not in SECTIONS:
                raise InputError(
                    source,
                    number,
                    f"unknown section {heading.group(2).strip()!r}: expected Background, Methods and Outcomes",
                )
            section = SECTIONS[name]
            line_of[section] = number
            continue
        if section is None:
            if line.strip():
                raise InputError(source, number, "text before the first section: start with ## Background")
            continue
        item = _ITEM.match(line)
        if item and section == "outcomes":
            items.setdefault(section, []).append(item.group(1))
        elif line.strip():
            paragraphs.setdefault(section, []).append(line.strip())
    line_of["outcome"] = line_of["values"] = line_of.get("outcomes")
    parts["background"] = " ".join(paragraphs.get("background", []))
    parts["methods"] = " ".join(paragraphs.get("methods", []))
    prose = " ".join(paragraphs.get("outcomes", []))
    if SLOT in prose:
        parts["outcome"], parts["values"] = prose, items.get("outcomes", [])
    else:
        if prose:
            raise InputError(
                source,
                line_of.get("outcomes"),
                "text under Outcomes that is no list item: list each outcome as '- ...' "
                f"(or write one sentence with a {SLOT} slot and list its values)",
            )
        parts["outcomes"] = items.get("outcomes", [])
    return build_study(parts, source, line_of)


def parse_study(text: str, source: str, fmt: str) -> PlannedStudy:
    """A study from Markdown (``md``), JSON (``json``) or YAML (``yaml``) text."""
    if fmt == "md":
        return parse_markdown(text, source)
    if fmt == "json":
        try:
            parts = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(source, error.lineno, f"not valid JSON ({error.msg})") from None
    else:
        import yaml

        try:
            parts = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            raise InputError(
                source, mark.line + 1 if mark else None, f"not valid YAML ({getattr(error, 'problem', error)})"
            ) from None
    if not isinstance(parts, dict):
        raise InputError(source, None, "expected an object with background, methods and outcomes")
    return build_study(parts, source)


def load_study(path: Path) -> PlannedStudy:
    """Read a study file; the format follows the extension (.md, .json, .yaml/.yml; anything else is read as
    Markdown)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such file")
    suffix = path.suffix.lower()
    fmt = "json" if suffix == ".json" else "yaml" if suffix in {".yaml", ".yml"} else "md"
    return parse_study(decode_utf8(path.read_bytes(), str(path)), str(path), fmt)
