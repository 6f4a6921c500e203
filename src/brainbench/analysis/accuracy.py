"""Accuracy per model, per subfield, and models against human experts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from brainbench.runs.summary import accuracy_stats

AVERAGE_MODEL = "average model"
# The 15 models of the paper's Fig 3A (mean 81.4% on human-made items), named as its result folders.
PAPER_MODEL_SET = (
    "facebook--galactica-6.7b", "facebook--galactica-30b", "facebook--galactica-120b",
    "tiiuae--falcon-40b", "tiiuae--falcon-40b-instruct", "tiiuae--falcon-180B", "tiiuae--falcon-180B-chat",
    "meta-llama--Llama-2-7b-hf", "meta-llama--Llama-2-7b-chat-hf", "meta-llama--Llama-2-13b-hf",
    "meta-llama--Llama-2-13b-chat-hf", "meta-llama--Llama-2-70b-hf", "meta-llama--Llama-2-70b-chat-hf",
    "mistralai--Mistral-7B-v0.1", "mistralai--Mistral-7B-Instruct-v0.1",
)
HUMAN_EXPERTS = "human experts"


def stats_row(correct: Sequence[bool]) -> dict[str, float]:
    """accuracy_stats flattened for a table row: n, n_correct, accuracy, sem, ci95_low, ci95_high."""
    result = accuracy_stats(list(correct))
    low, high = result.pop("accuracy_ci95")
    result["sem"] = result.pop("accuracy_sem")
    return {**result, "ci95_low": low, "ci95_high": high}


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model (in order of appearance): n, n_correct, accuracy, sem (the paper's), Wilson 95% CI."""
    rows = [{"model": model, **stats_row(group["correct"])} for model, group in results.groupby("model", sort=False)]
    return pd.DataFrame(rows).set_index("model")


def mean_accuracy(table: pd.DataFrame, models: Sequence[str] | None = None) -> float:
    """Mean of per-model accuracies over ``models`` (all rows of ``accuracy_table`` by default)."""
    if models is None:
        return float(table["accuracy"].mean())
    missing = [model for model in models if model not in table.index]
    if missing:
        raise KeyError(f"no run for {len(missing)} model(s) of the set: {', '.join(missing)}")
    return float(table.loc[list(models), "accuracy"].mean())


def subfield_table(results: pd.DataFrame, human_trials: pd.DataFrame | None = None) -> pd.DataFrame:
    """Accuracy by subfield (rows) for each model, the average model (mean of the models' subfield
    accuracies, as the paper) and, if given, the human experts' trials."""
    table = results.pivot_table(index="subfield", columns="model", values="correct", aggfunc="mean", sort=True)
    table = table[list(dict.fromkeys(results["model"]))]
    table[AVERAGE_MODEL] = table.mean(axis=1)
    if human_trials is not None and not human_trials.empty:
        table[HUMAN_EXPERTS] = human_trials.groupby("subfield")["correct"].mean()
    table.columns.name = None
    return table


def models_vs_humans(model_accuracies: Sequence[float], human_accuracy: float) -> dict[str, float]:
    """One-sample t-test of the models' accuracies against the human accuracy, and Cohen's d
    ((mean - human) / SD of the models, ddof=1)."""
    values = np.asarray(model_accuracies, dtype=float)
    if len(values) < 2:
        raise ValueError("models_vs_humans needs at least two models")
    result = stats.ttest_1samp(values, human_accuracy)
    sd = float(values.std(ddof=1))
    return {
        "n_models": int(len(values)),
        "mean_model_accuracy": float(values.mean()),
        "sd_model_accuracy": sd,
        "human_accuracy": float(human_accuracy),
        "t": float(result.statistic),
        "df": int(len(values) - 1),
        "p": float(result.pvalue),
        "cohens_d": float((values.mean() - human_accuracy) / sd) if sd > 0 else float("inf"),
    }
