"""The human experts: accuracy overall, of the most expert, by subfield, researcher type and experience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from brainbench.analysis.accuracy import stats_row
from brainbench.analysis.calibration import calibration_bins


def trials_of(trials: pd.DataFrame, source: str = "human") -> pd.DataFrame:
    """Trials on test cases made by ``source`` ("human" or "gpt4")."""
    return trials[trials["source"] == source]


def top_expertise_trials(
    trials: pd.DataFrame, fraction: float = 0.2, keep: Literal["first", "last", "all"] = "first"
) -> pd.DataFrame:
    """The paper's top-expertise rule: within each abstract, the ``int(fraction * n)`` trials with the
    highest self-rated expertise. ``keep="first"`` (the paper's, pandas' default) breaks ties by file
    order; ``"all"`` keeps every trial tied at the cut-off instead of an arbitrary subset."""
    parts = [group.nlargest(int(fraction * len(group)), "expertise", keep=keep) for _, group in trials.groupby("abstract_id", sort=True)]
    return pd.concat(parts) if parts else trials.iloc[0:0]


def human_summary(trials: pd.DataFrame, fraction: float = 0.2, keep: Literal["first", "last", "all"] = "first") -> pd.DataFrame:
    """Rows: all experts and the top-``fraction`` by expertise; columns: stats_row fields."""
    rows = {
        "all experts": stats_row(trials["correct"]),
        f"top {round(100 * fraction)}% expertise": stats_row(top_expertise_trials(trials, fraction, keep)["correct"]),
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "group"
    return frame


def accuracy_by(trials: pd.DataFrame, column: str) -> pd.DataFrame:
    """Accuracy per value of ``column`` (e.g. subfield, position), with n and the Wilson CI."""
    rows = {key: stats_row(group["correct"]) for key, group in trials.groupby(column, sort=True)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = column
    return frame


def accuracy_by_experience(trials: pd.DataFrame, edges: Sequence[float] = (0, 5, 10, 15, 20, np.inf)) -> pd.DataFrame:
    """Accuracy by years of experience in bins [a, b)."""
    labels = [f"{int(a)}-{int(b) - 1}" if np.isfinite(b) else f"{int(a)}+" for a, b in zip(edges[:-1], edges[1:])]
    binned = trials.assign(experience=pd.cut(trials["experience_years"], bins=list(edges), right=False, labels=labels))
    rows = {str(key): stats_row(group["correct"]) for key, group in binned.groupby("experience", observed=True, sort=True)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "experience_years"
    return frame


def item_accuracy(trials: pd.DataFrame) -> pd.Series:
    """Per-item human accuracy (mean correct per DOI): the human side of item-level agreement."""
    return trials.groupby("doi")["correct"].mean()


def expertise_calibration(trials: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Accuracy by self-rated expertise: equal-count bins of ranked expertise (as confidence is binned)."""
    bins = calibration_bins(trials["expertise"], trials["correct"], n_bins)
    return bins.rename(columns={"mean_confidence": "mean_expertise"})
