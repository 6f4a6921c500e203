"""The paper's main tables for a set of runs, side by side with the human experts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from brainbench.analysis.accuracy import PAPER_MODEL_SET, accuracy_table, mean_accuracy, models_vs_humans, subfield_table
from brainbench.analysis.agreement import agreement_matrix, agreement_summary
from brainbench.analysis.calibration import table_s3
from brainbench.analysis.families import accuracy_by_size, chat_vs_base
from brainbench.analysis.humans import human_summary, item_accuracy
from brainbench.analysis.paired import paired_comparison

__all__ = ["comparison_tables", "default_model_set", "paired_comparison"]


def default_model_set(models: Sequence[str]) -> list[str]:
    """The models a mean is over: the paper's 15 when all of them are among ``models`` (so that other
    runs, such as BrainGPT, do not move the paper's figures), else every model."""
    return list(PAPER_MODEL_SET) if set(PAPER_MODEL_SET) <= set(models) else list(models)


def comparison_tables(
    results: pd.DataFrame, human_trials: pd.DataFrame | None = None, model_set: Sequence[str] | None = None
) -> dict[str, Any]:
    """The paper's main tables for a set of runs: accuracy per model; the mean, the models-vs-experts
    test, the subfields' average model and the agreement summary over ``model_set`` (default:
    ``default_model_set``; the runs outside it are listed in ``other_runs``); the human experts (all and
    top 20%); Table S3; chat vs base models and accuracy by size; and for exactly two runs their
    paired comparison."""
    accuracy = accuracy_table(results)
    chosen = list(model_set) if model_set is not None else default_model_set(list(accuracy.index))
    tables: dict[str, Any] = {
        "accuracy": accuracy,
        "model_set": chosen,
        "mean_accuracy": mean_accuracy(accuracy, chosen),
        "other_runs": [model for model in accuracy.index if model not in chosen],
    }
    if len(accuracy) == 2:
        tables["paired"] = paired_comparison(results, *accuracy.index)
    if human_trials is not None:
        humans = human_summary(human_trials)
        tables["humans"] = humans
        if len(chosen) > 1:
            tables["models_vs_humans"] = models_vs_humans(accuracy.loc[chosen, "accuracy"], float(humans.loc["all experts", "accuracy"]))
    tables["subfields"] = subfield_table(results, human_trials, chosen)
    matrix = agreement_matrix(results, item_accuracy(human_trials) if human_trials is not None else None)
    tables["agreement_matrix"] = matrix
    tables["agreement"] = agreement_summary(matrix, models=chosen)
    tables["table_s3"] = table_s3(results, human_trials)
    tables["chat_vs_base"] = chat_vs_base(results)
    tables["accuracy_by_size"] = accuracy_by_size(results)
    return tables
