"""The human-expert study's trials (participant_data.csv + abstract_id_doi.csv) as one tidy table.

Each trial is one expert choosing between the two versions of one abstract. The study numbered
abstracts 1-200 (abstract_id); the human-made CSV's row i is abstract_id i + 1, and GPT-4-made
items (a subset of the same abstracts) map through their DOI.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from brainbench.data.files import decode_utf8
from brainbench.errors import InputError
from brainbench.io import read_bytes

PARTICIPANT_COLUMNS = (
    "pid",
    "expertise",
    "confidence",
    "correct",
    "rt",
    "abstract_id",
    "journal_section",
    "current position",
    "experience",
)
SOURCE_PREFIXES = {"human_": "human", "machine_": "gpt4"}


def read_abstract_ids(path: Path) -> pd.DataFrame:
    """abstract_id_doi.csv: ``DOI;abstract_id;abstract`` (the abstract itself may contain ';')."""
    text = decode_utf8(read_bytes(path, "abstract_id_doi.csv"), str(path))
    lines = text.splitlines()
    if len(lines) < 2:
        raise InputError(path, None, "empty: expected a header and one DOI;abstract_id;abstract line per abstract")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(";", 2)
        if len(parts) < 2 or not parts[1].strip().isdigit():
            raise InputError(path, number, "expected DOI;abstract_id;abstract with an integer abstract_id")
        rows.append({"doi": parts[0].strip(), "abstract_id": int(parts[1])})
    return pd.DataFrame(rows)


def read_participant_trials(path: Path) -> pd.DataFrame:
    """participant_data.csv -> one row per trial with tidy column names.

    Columns: participant_id, expertise, confidence, correct (bool), rt_ms, abstract_id, source
    ("human" or "gpt4" from the journal_section prefix), subfield, position, experience_years.
    """
    text = decode_utf8(read_bytes(path, "participant_data.csv"), str(path))
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, None, f"not a CSV file ({str(error).splitlines()[0]})") from None
    missing = [column for column in PARTICIPANT_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(path, 1, f"missing column(s) {', '.join(missing)}")
    section = frame["journal_section"].astype(str)
    source = pd.Series(pd.NA, index=frame.index, dtype="object")
    subfield = section.copy()
    for prefix, name in SOURCE_PREFIXES.items():
        match = section.str.startswith(prefix)
        source[match] = name
        subfield[match] = section[match].str.slice(len(prefix))
    unknown = source.isna()
    if unknown.any():
        first = int(unknown.idxmax())
        raise InputError(path, first + 2, f"journal_section {section[first]!r} starts with neither human_ nor machine_")
    try:
        return _tidy_trials(frame, source, subfield)
    except (ValueError, TypeError) as error:
        raise InputError(path, None, f"a column has values of the wrong kind ({error})") from None


def _tidy_trials(frame: pd.DataFrame, source: pd.Series, subfield: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": frame["pid"].astype("int64"),
            "expertise": frame["expertise"].astype(float),
            "confidence": frame["confidence"].astype(float),
            "correct": frame["correct"].astype(bool),
            "rt_ms": frame["rt"].astype(float),
            "abstract_id": frame["abstract_id"].astype("int64"),
            "source": source.astype(str),
            "subfield": subfield,
            "position": frame["current position"].astype(str),
            "experience_years": frame["experience"].astype(float),
        }
    )


def attach_dois(trials: pd.DataFrame, abstract_ids: pd.DataFrame) -> pd.DataFrame:
    """Add each trial's DOI (from the study's abstract numbering), so trials join to any dataset by DOI."""
    merged = trials.merge(abstract_ids, on="abstract_id", how="left", validate="many_to_one")
    if merged["doi"].isna().any():
        missing = sorted(merged.loc[merged["doi"].isna(), "abstract_id"].unique())[:10]
        raise InputError("abstract_id_doi.csv", None, f"no DOI for abstract_id(s) {missing}")
    return merged


def load_human_trials(participants_path: Path, abstract_ids_path: Path) -> pd.DataFrame:
    """Both files read and joined: one row per trial, with its DOI."""
    return attach_dois(read_participant_trials(participants_path), read_abstract_ids(abstract_ids_path))
