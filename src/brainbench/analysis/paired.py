"""Paired comparisons: two models on the same items (what a claim "A beats B" needs), and the t-test of
paired differences that the paper's comparisons use."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def paired_comparison(
    results: pd.DataFrame, model_a: str, model_b: str, n_bootstrap: int = 10_000, seed: int = 0
) -> dict[str, float]:
    """McNemar's exact test on the discordant items and a percentile bootstrap 95% CI (items
    resampled) of accuracy(A) - accuracy(B), over the items both models scored."""
    a = results[results["model"] == model_a].set_index("doi")["correct"]
    b = results[results["model"] == model_b].set_index("doi")["correct"]
    both = a.index.intersection(b.index)
    if len(both) == 0:
        raise ValueError(f"{model_a} and {model_b} share no scored items")
    a = a.loc[both].to_numpy(dtype=bool)
    b = b.loc[both].to_numpy(dtype=bool)
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    discordant = only_a + only_b
    p = float(stats.binomtest(only_a, discordant, 0.5).pvalue) if discordant else 1.0
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(a), size=(n_bootstrap, len(a)))
    differences = a[samples].mean(axis=1) - b[samples].mean(axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "model_a": model_a,
        "model_b": model_b,
        "n_items": len(a),
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "difference": float(a.mean() - b.mean()),
        "difference_ci95_low": float(low),
        "difference_ci95_high": float(high),
        "only_a_correct": only_a,
        "only_b_correct": only_b,
        "mcnemar_p": p,
    }


def t_test_of_differences(differences: Sequence[float]) -> dict[str, float]:
    """The t-test of paired differences against 0 (scipy's ``ttest_rel``, pingouin's paired ``ttest``): n,
    the mean difference with its 95% CI (mean +- t(0.975, n - 1) * SEM), t, df and the two-sided p.
    With fewer than two differences, only n and the mean."""
    values = np.asarray(differences, dtype=float)
    result = {
        "n": len(values),
        "mean": float(values.mean()) if len(values) else np.nan,
        "ci95_low": np.nan,
        "ci95_high": np.nan,
        "t": np.nan,
        "df": len(values) - 1,
        "p": np.nan,
    }
    if len(values) < 2 or np.ptp(values) == 0:  # nothing varies: no t (scipy would give inf or nan, with a warning)
        return result
    test = stats.ttest_1samp(values, 0.0)
    half_width = float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values))
    return {
        **result,
        "ci95_low": result["mean"] - half_width,
        "ci95_high": result["mean"] + half_width,
        "t": float(test.statistic),
        "p": float(test.pvalue),
    }
