"""Integration of context (Figs S3, S4): accuracy of each model under each run condition."""

from __future__ import annotations

import pandas as pd

NO_CONTEXT_PER_ABSTRACT = "no-context (per abstract)"


def condition_label(condition: str, seed: int | None) -> str:
    """How a run's condition is shown: full, no-context, or swapped (seed N)."""
    return f"swapped (seed {seed})" if condition == "swapped" else condition


def context_table(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per model (rows) and condition (columns: full first, then in order of appearance).

    ``results`` is ``results_table`` rows with a ``condition`` column. Without context, accuracy is
    over sentence pairs, as the paper; the per-abstract column averages each abstract's own
    accuracy over its pairs (grouped by DOI), so that abstracts with many edits weigh no more.
    """
    table = results.pivot_table(index="model", columns="condition", values="correct", aggfunc="mean", sort=False)
    conditions = list(dict.fromkeys(["full", *results["condition"]]))
    no_context = results[results["condition"] == "no-context"]
    if not no_context.empty:
        table[NO_CONTEXT_PER_ABSTRACT] = (
            no_context.groupby(["model", "doi"], sort=False)["correct"].mean().groupby(level="model").mean()
        )
        conditions.insert(conditions.index("no-context") + 1, NO_CONTEXT_PER_ABSTRACT)
    table = table.reindex(columns=[column for column in conditions if column in table.columns])
    table.columns.name = None
    return table
