"""Run records -> one long DataFrame, the input of every analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from brainbench.errors import AnalysisError
from brainbench.runs.collection import model_key

RESULT_COLUMNS = [
    "model",
    "item_id",
    "doi",
    "subfield",
    "source",
    "label",
    "n_options",
    "ppl_original",
    "ppl_altered",
    "ppl_a",
    "ppl_b",
    "correct",
    "confidence",
    "p_chosen",
    "difficulty",
]


def results_table(runs: Mapping[str, Sequence[dict[str, Any]]]) -> pd.DataFrame:
    """``{model: records}`` -> one row per (model, scored item), models named by ``model_key``.

    ``difficulty`` is the paper's PPL_incorrect - PPL_correct (``ppl_altered - ppl_original``; with N > 2
    versions the altered ones' mean PPL): large when the model finds the real result much less surprising.
    Runs of the choice protocol have no PPLs: their difficulty is P(real) - P(altered).
    """
    keys = [model_key(model) for model in runs]
    clashes = sorted({key for key in keys if keys.count(key) > 1})
    if clashes:
        raise AnalysisError(
            f"runs named {', '.join(clashes)} in two spellings (org/name and org--name) are one model; name them apart"
        )
    frames = []
    for model, records in runs.items():
        frame = pd.DataFrame([record for record in records if record["status"] == "ok"])
        if frame.empty:
            continue
        frame["model"] = model_key(model)
        from_ppl = pd.to_numeric(frame["ppl_altered"], errors="coerce") - pd.to_numeric(
            frame["ppl_original"], errors="coerce"
        )
        # the choice protocol's records bring their own: P(real) - P(altered), also larger when the item is easier
        frame["difficulty"] = frame["difficulty"].fillna(from_ppl) if "difficulty" in frame else from_ppl
        if "n_options" not in frame:  # records written before N-option cases: pairs
            frame["n_options"] = 2
        frames.append(frame.reindex(columns=RESULT_COLUMNS))  # ppl_a, ppl_b: pairs only
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    table["correct"] = table["correct"].astype(bool)
    return table
