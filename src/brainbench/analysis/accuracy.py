"""Accuracy per model, per subfield, and models against human experts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from brainbench.analysis.paired import t_test_of_differences
from brainbench.stats import accuracy_stats

AVERAGE_MODEL = "average model"
# The 15 models of the paper's Fig 3A (mean 81.4% on human-made items), named as its result folders, in the
# order of its model list (utils/model_list.py), which is also the order of Table S3's random stream.
PAPER_MODEL_SET = (
    "facebook--galactica-6.7b",
    "facebook--galactica-30b",
    "facebook--galactica-120b",
    "tiiuae--falcon-40b",
    "tiiuae--falcon-40b-instruct",
    "tiiuae--falcon-180B",
    "tiiuae--falcon-180B-chat",
    "meta-llama--Llama-2-7b-hf",
    "meta-llama--Llama-2-7b-chat-hf",
    "meta-llama--Llama-2-13b-hf",
    "meta-llama--Llama-2-13b-chat-hf",
    "meta-llama--Llama-2-70b-hf",
    "meta-llama--Llama-2-70b-chat-hf",
    "mistralai--Mistral-7B-v0.1",
    "mistralai--Mistral-7B-Instruct-v0.1",
)
HUMAN_EXPERTS = "human experts"
TOP_EXPERTS = "human experts (top 20%)"


def stats_row(correct: Sequence[bool]) -> dict[str, float]:
    """accuracy_stats flattened for a table row: n, n_correct, accuracy, sem, ci95_low, ci95_high."""
    result = accuracy_stats(list(correct))
    low, high = result.pop("accuracy_ci95")
    result["sem"] = result.pop("accuracy_sem")
    return {**result, "ci95_low": low, "ci95_high": high}


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model (in order of appearance): n, n_correct, accuracy, sem (the paper's), Wilson 95% CI,
    and chance (the mean of 1/N over its cases: 0.5 for pairs)."""
    rows = [
        {"model": model, **stats_row(group["correct"]), "chance": float((1 / group["n_options"]).mean())}
        for model, group in results.groupby("model", sort=False)
    ]
    return pd.DataFrame(rows).set_index("model")


def mean_accuracy(table: pd.DataFrame, models: Sequence[str] | None = None) -> float:
    """Mean of per-model accuracies over ``models`` (all rows of ``accuracy_table`` by default)."""
    if models is None:
        return float(table["accuracy"].mean())
    missing = [model for model in models if model not in table.index]
    if missing:
        raise KeyError(f"no run for {len(missing)} model(s) of the set: {', '.join(missing)}")
    return float(table.loc[list(models), "accuracy"].mean())


def subfield_table(
    results: pd.DataFrame, human_trials: pd.DataFrame | None = None, models: Sequence[str] | None = None
) -> pd.DataFrame:
    """Accuracy by subfield (rows) for each model; the average model (mean of the subfield accuracies of
    ``models``, all runs by default, as the paper's "average LLM"); and, given the experts' trials, their
    accuracy and that of the most expert (``top_expertise_by_subfield``, the Fig 3B radar's rule)."""
    table = results.pivot_table(index="subfield", columns="model", values="correct", aggfunc="mean", sort=True)
    table = table[list(dict.fromkeys(results["model"]))]
    table[AVERAGE_MODEL] = table[list(models) if models is not None else list(table.columns)].mean(axis=1)
    if human_trials is not None and not human_trials.empty:
        table[HUMAN_EXPERTS] = human_trials.groupby("subfield")["correct"].mean()
        table[TOP_EXPERTS] = top_expertise_by_subfield(human_trials)
    table.columns.name = None
    return table


def top_expertise_by_subfield(trials: pd.DataFrame, top_percent: float = 20) -> pd.Series:
    """The Fig 3B radar's top experts: within each subfield, the trials whose self-rated expertise is at
    least that subfield's ``np.percentile(expertise, 100 - top_percent)`` (numpy's linear rule; ties at
    the cut-off all kept), and their accuracy. Not the top-20% rule of Fig 3A (``top_expertise_trials``)."""
    accuracy = {}
    for subfield, group in trials.groupby("subfield", sort=True):
        cutoff = np.percentile(group["expertise"], 100 - top_percent)
        accuracy[subfield] = float(group.loc[group["expertise"] >= cutoff, "correct"].mean())
    return pd.Series(accuracy, name=TOP_EXPERTS, dtype=float)


def models_vs_humans(model_accuracies: Sequence[float], human_accuracy: float) -> dict[str, float]:
    """The paper's models-vs-experts test: a t-test of the models' accuracies against the experts'
    (pingouin's paired t-test against the experts' accuracy repeated per model, which is the one-sample
    t-test), with the 95% CI of the mean difference and the paper's Cohen's d: pingouin's paired d_av,
    (mean - human) / sqrt((var_models + var_humans) / 2) with ddof 1, where var_humans = 0. The SD of
    the model accuracies is numpy's default (ddof 0), as the paper's. ``cohens_d_one_sample``,
    (mean - human) / SD (ddof 1), is the textbook one-sample d, smaller by sqrt(2); not the paper's."""
    values = np.asarray(model_accuracies, dtype=float)
    if len(values) < 2:
        raise ValueError("models_vs_humans needs at least two models")
    test = t_test_of_differences(values - human_accuracy)
    sd = float(values.std(ddof=1))
    return {
        "n_models": len(values),
        "mean_model_accuracy": float(values.mean()),
        "sd_model_accuracy": float(values.std(ddof=0)),
        "human_accuracy": float(human_accuracy),
        "difference": test["mean"],
        "difference_ci95_low": test["ci95_low"],
        "difference_ci95_high": test["ci95_high"],
        "t": test["t"],
        "df": test["df"],
        "p": test["p"],
        "cohens_d_av": test["mean"] / np.sqrt(sd**2 / 2) if sd > 0 else np.nan,  # n/a when every model is as accurate
        "cohens_d_one_sample": test["mean"] / sd if sd > 0 else np.nan,
    }
