"""Run records -> one long DataFrame, the input of every analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

RESULT_COLUMNS = [
    "model", "item_id", "doi", "subfield", "source", "label",
    "ppl_original", "ppl_altered", "ppl_a", "ppl_b", "correct", "confidence", "difficulty",
]


def results_table(runs: Mapping[str, Sequence[dict[str, Any]]]) -> pd.DataFrame:
    """``{model: records}`` -> one row per (model, scored item).

    ``difficulty`` is the paper's PPL_incorrect - PPL_correct (``ppl_altered - ppl_original``):
    large when the model finds the real result much less surprising.
    """
    frames = []
    for model, records in runs.items():
        frame = pd.DataFrame([record for record in records if record["status"] == "ok"])
        if frame.empty:
            continue
        frame["model"] = model
        frame["difficulty"] = frame["ppl_altered"] - frame["ppl_original"]
        frames.append(frame[RESULT_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    table["correct"] = table["correct"].astype(bool)
    return table
