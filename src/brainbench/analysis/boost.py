"""The fine-tuning boost (Fig 5): a base model against its tuned version on the same items."""

from __future__ import annotations

import pandas as pd
from scipy import stats


def finetuning_boost(results: pd.DataFrame, before: str, after: str) -> dict[str, float | int | str]:
    """Accuracy before and after tuning, and the paper's paired t-tests over the items both runs scored:
    on the correct option's PPL, and on PPL_correct - PPL_incorrect (negative when the model is right)."""
    base = results[results["model"] == before].set_index("item_id")
    tuned = results[results["model"] == after].set_index("item_id")
    items = base.index.intersection(tuned.index)
    if len(items) < 2:
        raise ValueError(f"{before!r} and {after!r} share {len(items)} scored item(s); a paired test needs 2 or more")
    base, tuned = base.loc[items], tuned.loc[items]
    t_correct, p_correct = stats.ttest_rel(base["ppl_original"], tuned["ppl_original"])
    t_difference, p_difference = stats.ttest_rel(base["ppl_original"] - base["ppl_altered"], tuned["ppl_original"] - tuned["ppl_altered"])
    return {
        "before": before,
        "after": after,
        "n": len(items),
        "accuracy_before": float(base["correct"].mean()),
        "accuracy_after": float(tuned["correct"].mean()),
        "boost": float(tuned["correct"].mean() - base["correct"].mean()),
        "mean_correct_ppl_before": float(base["ppl_original"].mean()),
        "mean_correct_ppl_after": float(tuned["ppl_original"].mean()),
        "t_correct_ppl": float(t_correct),
        "p_correct_ppl": float(p_correct),
        "t_ppl_difference": float(t_difference),
        "p_ppl_difference": float(p_difference),
    }
