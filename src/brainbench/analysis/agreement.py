"""Item-level agreement (the paper's Fig S6): do models, and humans, find the same items hard?"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd


def difficulty_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Items (DOI) x models: PPL_incorrect - PPL_correct, only items every model scored."""
    table = results.pivot_table(index="doi", columns="model", values="difficulty", aggfunc="first")
    return table[list(dict.fromkeys(results["model"]))].dropna()


def agreement_matrix(results: pd.DataFrame, human_item_accuracy: pd.Series | None = None) -> pd.DataFrame:
    """Spearman correlations between models' item difficulties, plus a "human experts" row/column
    (per-item human accuracy) when given; items missing for anyone are left out."""
    table = difficulty_matrix(results)
    if human_item_accuracy is not None:
        table = table.join(human_item_accuracy.rename("human experts"), how="inner")
    return table.corr(method="spearman")


def agreement_summary(
    matrix: pd.DataFrame, human: str = "human experts", models: Sequence[str] | None = None
) -> dict[str, float]:
    """Mean and SD of the model-model correlations (each pair once) over ``models`` (every model of the
    matrix by default), and of the model-human ones if present. SDs are numpy's default (ddof 0), as the
    paper's ``np.nanstd``: its 0.75 +- 0.08 and 0.15 +- 0.03."""
    models = [name for name in (models if models is not None else matrix.columns) if name != human]
    pairs = [matrix.loc[a, b] for a, b in itertools.combinations(models, 2)]
    summary = {
        "n_models": len(models),
        "model_model_mean": float(np.mean(pairs)) if pairs else np.nan,
        "model_model_sd": float(np.std(pairs)) if pairs else np.nan,
    }
    if human in matrix.columns:
        with_human = matrix.loc[models, human].to_numpy(dtype=float)
        summary["model_human_mean"] = float(with_human.mean()) if len(with_human) else np.nan
        summary["model_human_sd"] = float(with_human.std()) if len(with_human) else np.nan
    return summary
