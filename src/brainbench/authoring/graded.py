"""Graded test cases for the review queue: a number that states a result, replaced by a ``{value}`` slot, and a grid
of values it might have been (``brainbench.data.grid``). Written on the authoring page or proposed by an
instruction model, checked here, then reviewed like an alteration."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from brainbench.authoring.edits import BACKGROUND_SHARE
from brainbench.authoring.propose import Chat
from brainbench.data.conditions import split_sentences
from brainbench.data.grid import SLOT, Grid, check_values, number_in

GRADED_PROMPT = """Below is the abstract of a neuroscience paper. Pick ONE number that states a result the study
found (a size, percentage, fold change, duration, latency or rate), not a sample size, dose, age or any number from
the background or methods. Then write 5 values that this number could plausibly have been, the real one among them,
each written in the same format and unit as the number, from lowest to highest. Reply with JSON only:
{{"number": "the number exactly as written, with its unit", "values": ["...", "...", "...", "...", "..."]}}

Abstract:
{abstract}"""


def check_graded(
    text: str, number: str, values: Sequence[str], unit: str = ""
) -> tuple[dict[str, Any] | None, list[str]]:
    """(the graded row: ``text`` with the slot, the values sorted by their numbers, ``numeric``, ``answer``, ``unit``;
    None when none can be made) and why it is not a good test case (empty when it passes). The number must stand in
    the abstract once, as a number of its own, in a result sentence (not in the first 40%, as alterations); the
    values include it, at least 3, none twice, each reading as a number (a range as its midpoint)."""
    number = " ".join(number.split())
    values = [" ".join(value.split()) for value in values if value.strip()]
    if not number:
        return None, ["name the number that states the result, as the abstract writes it"]
    starts = [match.start() for match in re.finditer(r"(?<![\d.])" + re.escape(number) + r"(?!\d|\.\d)", text)]
    if len(starts) != 1:
        return None, [
            f"{number!r} is not in the abstract as a number of its own: copy it as written"
            if not starts
            else f"{number!r} stands {len(starts)} times in the abstract: choose a number stated once"
        ]
    reasons: list[str] = []
    if not check_values(values, reasons.append):
        return None, reasons
    if number not in values:
        return None, [f"the values must include the real one, {number!r}, written the same way"]
    numbers = [number_in(value) for value in values]
    unread = [value for value, read in zip(values, numbers) if read is None]
    if unread:
        return None, [
            f"{unread[0]!r} does not read as a number (write e.g. '35%', '2-fold', '3-4 Hz' or a number word)"
        ]
    if len(set(numbers)) < len(numbers):
        return None, ["two values mean the same number: every value needs its own"]
    sentences = split_sentences(text)
    at = len(split_sentences(text[: starts[0] + 1])) - 1
    background = math.ceil(BACKGROUND_SHARE * len(sentences)) if len(sentences) > 2 else 0
    if at < background:
        reasons.append(
            f"the number is in the background or methods (sentence {at + 1} of {len(sentences)}): choose a result"
        )
    ordered = sorted(zip(numbers, values))
    row = {
        "text": text[: starts[0]] + SLOT + text[starts[0] + len(number) :],
        "values": [value for _, value in ordered],
        "numeric": [read for read, _ in ordered],
        "answer": [value for _, value in ordered].index(number),
        "unit": unit.strip(),
    }
    return row, reasons


def graded_combined(row: dict[str, Any]) -> str:
    """The row as one combined text, the real value first: ``... by [[35% | 10% | 20% | 50%]] ...``."""
    return Grid(tuple(row["values"]), tuple(row["numeric"]), row["answer"]).combined(row["text"])


def propose_grid(chat: Chat, abstract: str, prompt: str = GRADED_PROMPT) -> tuple[str, list[str]]:
    """(number, values) the model proposes for ``abstract``; ("", []) when its reply holds no such JSON."""
    reply = chat([{"role": "user", "content": prompt.format(abstract=abstract)}])
    match = re.search(r"\{.*\}", reply, flags=re.DOTALL)
    try:
        proposal = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        proposal = {}
    if not isinstance(proposal, dict):
        return "", []
    values = proposal.get("values")
    number = proposal.get("number")
    return (
        str(number) if isinstance(number, str | int | float) else "",
        [str(value) for value in values] if isinstance(values, list) else [],
    )
