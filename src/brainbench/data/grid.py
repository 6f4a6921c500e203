"""Graded test cases: an abstract whose result is a number, written with one ``{value}`` slot, and a grid of
candidate values for it (one of them the real one).

A graded row (JSONL; in CSV the same columns, lists written as JSON)::

    {"doi": "...", "subfield": "...", "text": "... reduced firing by {value} in ...",
     "values": ["10%", "20%", "35%", "50%", "70%"], "numeric": [10, 20, 35, 50, 70], "answer": 2, "unit": "%"}

Each value put in the slot is one version of the case, so a graded case is scored as an N-option case
(the text before the slot is the versions' shared prefix). ``numeric`` is what each value means as a
number (for a range such as "3-4 Hz", its midpoint), from lowest to highest: the predicted mean, spread
and intervals are computed on it. Parsing is pure; ``grid_from_row`` reports problems through a callback.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

SLOT = "{value}"
MIN_VALUES = 3
GRADED_COLUMNS = ("doi", "text", "values", "numeric", "answer")  # and a subfield (or journal_section); unit optional

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
# A number, negative when its minus sign starts a word ("-70 mV", "(−5"), not when it joins a range ("1-2", "30%-50%").
_NUMBER = re.compile(r"(?:(?<![^\s(\[∼~≈<>=])[-−])?(?<![\d.])\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Grid:
    """The candidate values of a graded case, lowest first, and which one is real."""

    values: tuple[str, ...]  # the texts put in the slot
    numeric: tuple[float, ...]  # what each value means as a number, strictly increasing
    answer: int  # the real value's index
    unit: str = ""

    def version_order(self) -> tuple[int, ...]:
        """The grid index of each version of the case: the real value first (a TestCase's version 0), then the
        others from lowest to highest."""
        return version_order(self.answer, len(self.values))

    def versions(self) -> tuple[str, ...]:
        """The values in version order (the real one first)."""
        return tuple(self.values[index] for index in self.version_order())

    def combined(self, text: str) -> str:
        """``text`` with its slot written as one edit of all the versions: ``... by [[35% | 10% | 20% | 50%]] ...``."""
        return text.replace(SLOT, "[[" + " | ".join(self.versions()) + "]]")

    def to_json(self) -> dict[str, Any]:
        return {"values": list(self.values), "numeric": list(self.numeric), "answer": self.answer, "unit": self.unit}


def version_order(answer: int, n_values: int) -> tuple[int, ...]:
    """The grid index of each version: ``answer`` first, then the others in grid order."""
    return (answer, *(index for index in range(n_values) if index != answer))


def number_in(value: str) -> float | None:
    """What a value says as a number: a number word ("four"), the one number in it ("∼2-fold", ">90%"),
    or the midpoint of a range of two ("3–4 Hz", "30%-50%"); None when it is none of these."""
    text = value.strip()
    if text.lower() in NUMBER_WORDS:
        return float(NUMBER_WORDS[text.lower()])
    numbers = [float(found.replace("−", "-")) for found in _NUMBER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text))]
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) == 2:
        return (numbers[0] + numbers[1]) / 2
    return None


def _json_list(row: dict[str, str], column: str, report: Callable[[str], None]) -> list[Any] | None:
    try:
        found = json.loads(row.get(column) or "")
    except json.JSONDecodeError as error:
        report(f"'{column}' is not a JSON list ({error.msg})")
        return None
    if not isinstance(found, list):
        report(f"'{column}' is not a JSON list")
        return None
    return found


def check_values(values: Sequence[Any], report: Callable[[str], None], column: str = "values") -> bool:
    """At least 3 values, each a non-empty text without the slot, none twice."""
    if not all(isinstance(value, str) for value in values):
        report(f"'{column}' must be a list of texts (the words put in the slot, e.g. \"35%\")")
        return False
    if len(values) < MIN_VALUES:
        report(f"'{column}' holds {len(values)} value(s); a graded case needs at least {MIN_VALUES}")
        return False
    problems = [f"empty value in '{column}'" for value in values if not value.strip()]
    problems += [f"value {value!r} in '{column}' contains the slot {SLOT}" for value in values if SLOT in value]
    problems += [f"value {value!r} is twice in '{column}'" for value in sorted(set(values)) if values.count(value) > 1]
    for problem in problems:
        report(problem)
    return not problems


def check_numeric(numeric: Sequence[Any], n_values: int, report: Callable[[str], None]) -> bool:
    """One finite number per value, strictly increasing (the grid from lowest to highest)."""
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in numeric):
        report("'numeric' must be a list of finite numbers")
        return False
    if len(numeric) != n_values:
        report(f"'numeric' has {len(numeric)} number(s) for {n_values} values")
        return False
    if any(later <= earlier for earlier, later in pairwise(numeric)):
        shown = ", ".join(f"{x:g}" for x in numeric)
        report(
            f"'numeric' is not sorted from lowest to highest without repeats ({shown}): write the grid in that order"
        )
        return False
    return True


def grid_from_row(row: dict[str, str], report: Callable[[str, str], None]) -> tuple[str, Grid] | None:
    """(text with its slot, grid) of a graded row; None (with every reason reported) if unusable.
    ``report(reason, severity)`` with severity "error" or "warning"."""

    def error(reason: str) -> None:
        report(reason, "error")

    text = row.get("text") or ""
    slots = text.count(SLOT)
    usable = slots == 1
    if slots != 1:
        error(
            f"'text' has {slots if slots else 'no'} {SLOT} slot{'s' if slots > 1 else ''}; a graded case needs "
            "exactly one"
        )
    values = _json_list(row, "values", error)
    numeric = _json_list(row, "numeric", error)
    usable = usable and values is not None and numeric is not None
    if values is not None and not check_values(values, error):
        usable = False
    if usable and not check_numeric(numeric, len(values), error):  # type: ignore[arg-type]
        usable = False
    answer_text = (row.get("answer") or "").strip()
    n_values = len(values) if values is not None else 0
    if not answer_text.isdigit() or (values is not None and int(answer_text) >= n_values):
        error(f"'answer' {answer_text!r} is not the index of one of the {n_values} values (0 is the first)")
        usable = False
    if not usable:
        return None
    for value, x in zip(values, numeric):  # type: ignore[arg-type]
        read = number_in(value)
        if read is not None and not math.isclose(read, x, rel_tol=1e-9, abs_tol=1e-12):
            report(f"value {value!r} reads as {read:g} but 'numeric' says {x:g}", "warning")
    grid = Grid(tuple(values), tuple(float(x) for x in numeric), int(answer_text), (row.get("unit") or "").strip())  # type: ignore[arg-type]
    return text, grid
