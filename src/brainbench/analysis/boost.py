"""The fine-tuning boost (Fig 5): a base model against its tuned version on the same items."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainbench.analysis.paired import t_test_of_differences


def paired_t(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """pingouin's paired t-test of before vs after: t, p, the mean of before - after with its 95% CI,
    and Cohen's d_av, mean difference / sqrt((var_before + var_after) / 2) with ddof 1."""
    test = t_test_of_differences(before - after)
    return {**test, "cohens_d_av": float(test["mean"] / np.sqrt((before.var(ddof=1) + after.var(ddof=1)) / 2))}


def finetuning_boost(results: pd.DataFrame, before: str, after: str) -> dict[str, float | int | str]:
    """Accuracy before and after tuning, and the paper's paired t-tests over the items both runs scored:
    on the correct option's PPL (with the 95% CI of its drop and d_av), and on PPL_correct - PPL_incorrect
    (negative when the model is right)."""
    base = results[results["model"] == before].set_index("item_id")
    tuned = results[results["model"] == after].set_index("item_id")
    items = base.index.intersection(tuned.index)
    if len(items) < 2:
        raise ValueError(f"{before!r} and {after!r} share {len(items)} scored item(s); a paired test needs 2 or more")
    base, tuned = base.loc[items], tuned.loc[items]
    correct = paired_t(base["ppl_original"].to_numpy(float), tuned["ppl_original"].to_numpy(float))
    margin = paired_t(
        (base["ppl_original"] - base["ppl_altered"]).to_numpy(float),
        (tuned["ppl_original"] - tuned["ppl_altered"]).to_numpy(float),
    )
    return {
        "before": before,
        "after": after,
        "n": len(items),
        "accuracy_before": float(base["correct"].mean()),
        "accuracy_after": float(tuned["correct"].mean()),
        "boost": float(tuned["correct"].mean() - base["correct"].mean()),
        "mean_correct_ppl_before": float(base["ppl_original"].mean()),
        "mean_correct_ppl_after": float(tuned["ppl_original"].mean()),
        "t_correct_ppl": correct["t"],
        "p_correct_ppl": correct["p"],
        "correct_ppl_drop": correct["mean"],
        "correct_ppl_drop_ci95_low": correct["ci95_low"],
        "correct_ppl_drop_ci95_high": correct["ci95_high"],
        "cohens_d_av_correct_ppl": correct["cohens_d_av"],
        "t_ppl_difference": margin["t"],
        "p_ppl_difference": margin["p"],
        "cohens_d_av_ppl_difference": margin["cohens_d_av"],
    }
