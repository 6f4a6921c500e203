"""The human experts: who they were, their accuracy overall, of the most expert, by subfield, researcher type,
experience and self-rated expertise."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from brainbench.analysis.accuracy import stats_row
from brainbench.analysis.calibration import calibration_bins, calibration_fit


def trials_of(trials: pd.DataFrame, source: str = "human") -> pd.DataFrame:
    """Trials on test cases made by ``source`` ("human" or "gpt4")."""
    return trials[trials["source"] == source]


def top_expertise_trials(
    trials: pd.DataFrame, fraction: float = 0.2, keep: Literal["first", "last", "all"] = "first"
) -> pd.DataFrame:
    """The paper's top-expertise rule: within each abstract, the ``int(fraction * n)`` trials with the
    highest self-rated expertise. ``keep="first"`` (the paper's, pandas' default) breaks ties by file
    order; ``"all"`` keeps every trial tied at the cut-off instead of an arbitrary subset."""
    parts = [
        group.nlargest(int(fraction * len(group)), "expertise", keep=keep)
        for _, group in trials.groupby("abstract_id", sort=True)
    ]
    return pd.concat(parts) if parts else trials.iloc[0:0]


def human_summary(
    trials: pd.DataFrame, fraction: float = 0.2, keep: Literal["first", "last", "all"] = "first"
) -> pd.DataFrame:
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
    labels = [f"{int(a)}-{int(b) - 1}" if np.isfinite(b) else f"{int(a)}+" for a, b in itertools.pairwise(edges)]
    binned = trials.assign(experience=pd.cut(trials["experience_years"], bins=list(edges), right=False, labels=labels))
    rows = {
        str(key): stats_row(group["correct"]) for key, group in binned.groupby("experience", observed=True, sort=True)
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "experience_years"
    return frame


def item_accuracy(trials: pd.DataFrame) -> pd.Series:
    """Per-item human accuracy (mean correct per DOI): the human side of item-level agreement."""
    return trials.groupby("doi")["correct"].mean()


def expertise_calibration(trials: pd.DataFrame, n_bins: int = 4) -> pd.DataFrame:
    """Accuracy by self-rated expertise, binned as the paper's expertise calibration figure: rank the
    expertise ratings (ordinal), ``n_bins`` equal-count bins of ranks (the paper's 4), accuracy per bin
    and a linear fit of bin accuracy on bin midpoint; over all trials, then within each subfield.

    Rows: all experts, then the subfields; columns: n, the accuracy of each bin (``accuracy_bin_1`` the
    least expert), the fit's slope per bin, r and p.
    """
    groups = [("all experts", trials), *trials.groupby("subfield", sort=True)]
    rows = {}
    for name, group in groups:
        bins = calibration_bins(group["expertise"], group["correct"], n_bins)
        fit = calibration_fit(bins)
        rows[name] = {
            "n": len(group),
            **{f"accuracy_bin_{index + 1}": value for index, value in enumerate(bins["accuracy"])},
            "slope_per_bin": fit["slope_per_bin"],
            "r": fit["r"],
            "p": fit["p"],
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "experts"
    return frame


def participant_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Who took part: per current position, and for all (first row), the number of participants, their
    share, their mean years of experience (one value per participant, as the paper's 10.1) and the
    number of trials (the shares of Fig 3C's pie chart are of trials, both kinds of items)."""
    people = trials.drop_duplicates("participant_id")
    rows = {"all": people}
    rows.update(dict(list(people.groupby("position", sort=True))))
    table = pd.DataFrame.from_dict(
        {
            position: {
                "n_participants": len(group),
                "share": len(group) / len(people),
                "mean_experience_years": float(group["experience_years"].mean()),
                "n_trials": int(trials["participant_id"].isin(group["participant_id"]).sum()),
            }
            for position, group in rows.items()
        },
        orient="index",
    )
    table.index.name = "position"
    return table
