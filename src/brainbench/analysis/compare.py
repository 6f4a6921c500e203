"""The paper's main tables for a set of runs, side by side with the human experts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainbench.analysis.accuracy import (
    PAPER_MODEL_SET,
    accuracy_table,
    mean_accuracy,
    models_vs_humans,
    subfield_table,
)
from brainbench.analysis.agreement import agreement_matrix, agreement_summary
from brainbench.analysis.calibration import table_s3
from brainbench.analysis.families import accuracy_by_size, chat_vs_base
from brainbench.analysis.humans import human_summary, item_accuracy
from brainbench.analysis.paired import paired_comparison
from brainbench.analysis.tables import results_table
from brainbench.errors import InputError
from brainbench.runs.collection import caveats, human_trials_for, name_runs, one_dataset, read_runs, records_by_name

__all__ = [
    "compare_runs",
    "comparison_tables",
    "default_model_set",
    "describe_agreement",
    "describe_mean",
    "describe_models_vs_humans",
    "paired_comparison",
    "resolve_model_set",
]


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
            tables["models_vs_humans"] = models_vs_humans(
                accuracy.loc[chosen, "accuracy"], float(humans.loc["all experts", "accuracy"])
            )
    tables["subfields"] = subfield_table(results, human_trials, chosen)
    matrix = agreement_matrix(results, item_accuracy(human_trials) if human_trials is not None else None)
    tables["agreement_matrix"] = matrix
    tables["agreement"] = agreement_summary(matrix, models=chosen)
    tables["table_s3"] = table_s3(results, human_trials)
    tables["chat_vs_base"] = chat_vs_base(results)
    tables["accuracy_by_size"] = accuracy_by_size(results)
    return tables


def describe_mean(tables: dict[str, Any]) -> str:
    """The headline sentence: the mean over the model set, and the runs outside it, labelled."""
    chosen = tables["model_set"]
    over = "the paper's 15 models" if chosen == list(PAPER_MODEL_SET) else f"{len(chosen)} run(s)"
    line = f"Mean over {over}: {100 * tables['mean_accuracy']:.1f}%."
    if tables["other_runs"]:
        accuracy = tables["accuracy"]["accuracy"]
        line += (
            " Not in the mean: "
            + ", ".join(f"{name} {100 * accuracy[name]:.1f}%" for name in tables["other_runs"])
            + "."
        )
    return line


def describe_models_vs_humans(test: dict[str, Any]) -> str:
    """``models_vs_humans`` in one sentence, the paper's d_av first (n/a, saying why, where the runs' accuracies do not
    vary)."""
    line = f"Models vs experts: {100 * test['difference']:+.1f} points"
    if np.isnan(test["t"]):
        return line + " (t-test and Cohen's d: n/a, they need at least two runs with different accuracies)."
    return (
        line + f" (95% CI {100 * test['difference_ci95_low']:+.1f} to "
        f"{100 * test['difference_ci95_high']:+.1f}), t({test['df']}) = {test['t']:.2f}, p = {test['p']:.3g}, "
        f"Cohen's d_av = {test['cohens_d_av']:.2f} (the paper's paired d; the one-sample d is "
        f"{test['cohens_d_one_sample']:.2f}); "
        f"SD of the model accuracies {100 * test['sd_model_accuracy']:.2f} points (ddof 0, as the paper)."
    )


def describe_agreement(agreement: dict[str, Any]) -> str:
    """``agreement_summary`` in one sentence."""
    line = (
        f"Item-level agreement (Spearman; mean ± SD, ddof 0 as the paper) over {agreement['n_models']} models: "
        f"model-model {agreement['model_model_mean']:.3f} ± {agreement['model_model_sd']:.4f}"
    )
    if "model_human_mean" in agreement:
        line += f", model-human {agreement['model_human_mean']:.3f} ± {agreement['model_human_sd']:.4f}"
    return line + "."


def resolve_model_set(model_set: str | None, names: Sequence[str]) -> list[str] | None:
    """--model-set: None (the default set), or 'paper' when every one of the paper's 15 models has a run."""
    if model_set is None:
        return None
    if model_set != "paper":
        raise InputError("--model-set", None, f"{model_set!r}: the known set is 'paper'")
    missing = [name for name in PAPER_MODEL_SET if name not in names]
    if missing:
        raise InputError(
            "--model-set", None, f"no run for {len(missing)} of the paper's 15 models: {', '.join(missing)}"
        )
    return list(PAPER_MODEL_SET)


def compare_runs(
    run_dirs: Sequence[str | Path],
    *,
    data_dir: Path | None = None,
    model_set: str | None = None,
    normalisation: str = "ppl",
    allow_partial: bool = False,
) -> dict[str, Any]:
    """``brainbench compare``: the run directories (of one dataset) read, named and compared with the experts who
    judged that dataset (``comparison_tables``); ``caveats`` says which runs are partial and which models have
    several runs."""
    runs = name_runs(read_runs(run_dirs, normalisation, allow_partial))
    dataset = one_dataset(runs)
    chosen = resolve_model_set(model_set, [run.name for run in runs])
    tables = comparison_tables(
        results_table(records_by_name(runs)), human_trials_for([dataset], data_dir, runs), chosen
    )
    tables["caveats"] = caveats(runs)
    return tables
