"""The study's exports (pure: the store's rows in, CSV text out), every text cell spreadsheet-safe.

``participant_data.csv`` has the paper's columns, in the paper's order and with the paper's values,
then columns of ours after them (the readers of the paper's file ignore extra columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from brainbench.data import TestCase
from brainbench.web import csv_text, spreadsheet_safe

# the paper's participant_data.csv, column for column (its first, unnamed column is the row number)
PAPER_COLUMNS = [
    "",
    "pid",
    "expertise",
    "confidence",
    "click_outside",
    "correct",
    "rt",
    "abstract_id",
    "journal_section",
    "click_slider",
    "recognised",
    "age",
    "country",
    "current position",
    "experience",
    "sex",
]
EXTRA_COLUMNS = ["trial", "resumed", "rt_total", "click_outside_count", "layout"]
EXPORT_COLUMNS = PAPER_COLUMNS + EXTRA_COLUMNS
SECTION_PREFIX = {"human": "human_", "gpt4": "machine_"}  # journal_section is prefixed by who altered the item


def participant_data_csv(rows: Iterable[Mapping[str, Any]], cases: Mapping[int, TestCase], source: str) -> str:
    """participant_data.csv from the store's responses (``brainbench humans --participants`` reads it).

    rt is the active time in ms (the trial on screen); rt_total the time from its first view to the
    answer; resumed 1 when the trial was shown more than once; click_outside ``clicked`` when the
    window lost focus at least once (the paper's value), click_outside_count how often; layout how the two
    versions were shown (side-by-side, or differences on a narrow screen; blank when unknown).
    """
    prefix = SECTION_PREFIX.get(source, "human_")
    return csv_text(
        EXPORT_COLUMNS,
        (
            [
                number,
                row["participant_id"],
                row["expertise"],
                row["confidence"],
                "clicked" if row["blurs"] else "",
                int(row["correct"]),
                row["rt_ms"],
                row["item_id"] + 1,
                prefix + cases[row["item_id"]].subfield,
                int(row["confidence_touched"] and row["expertise_touched"]),
                int(row["recognised"]),
                row["age"],
                row["country"],
                row["current_position"],
                row["experience"],
                row["sex"],
                row["position"] + 1,
                int(row["n_views"] > 1),
                row["rt_total_ms"],
                row["blurs"],
                row.get("layout") or "",
            ]
            for number, row in enumerate(rows)
        ),
    )


def catch_csv(rows: Iterable[Mapping[str, Any]], catch_cases: Mapping[int, TestCase]) -> str:
    """Catch-trial answers: pid, the catch item's DOI, correct (screen out participants who failed)."""
    return csv_text(
        ["pid", "doi", "correct"],
        ([row["participant_id"], catch_cases[row["item_id"]].doi, int(row["correct"])] for row in rows),
    )


def abstract_ids_csv(cases: Iterable[TestCase]) -> str:
    """abstract_id_doi.csv: ``DOI;abstract_id;abstract`` (abstract_id = item id + 1), unquoted as the paper's
    (its readers split each line at the first two ';' only)."""
    lines = ["DOI;abstract_id;abstract"] + [
        f"{spreadsheet_safe(case.doi)};{case.item_id + 1};{spreadsheet_safe(case.original)}" for case in cases
    ]
    return "\n".join(lines) + "\n"
