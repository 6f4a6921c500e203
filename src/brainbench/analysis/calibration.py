"""Is confidence calibrated? Binned accuracy vs confidence (the paper's Fig 4), the logistic-regression
table (Table S3), and two measures the paper did not report: expected calibration error and Brier score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression


def calibration_bins(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 20) -> pd.DataFrame:
    """The paper's binning: rank the confidences (ordinal, 0-based; ties by order), cut the ranks into
    ``n_bins`` equal-count bins with edges ``linspace(0, N, n_bins + 1)`` and take accuracy per bin.

    Columns: bin, n, rank_midpoint, mean_confidence, accuracy.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    ranks = stats.rankdata(confidence, method="ordinal") - 1.0
    edges = np.linspace(0, len(ranks), n_bins + 1)
    rows = []
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        in_bin = (ranks >= low) & (ranks < high)
        rows.append(
            {
                "bin": index,
                "n": int(in_bin.sum()),
                "rank_midpoint": (low + high) / 2,
                "mean_confidence": float(confidence[in_bin].mean()) if in_bin.any() else np.nan,
                "accuracy": float(correct[in_bin].mean()) if in_bin.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def calibration_fit(bins: pd.DataFrame) -> dict[str, float]:
    """Linear fit of bin accuracy on bin (rank) midpoint, as the paper's regression line; slope per
    rank is also given per bin (``slope_per_bin``) so that runs of different sizes compare."""
    usable = bins.dropna(subset=["accuracy"])
    fit = stats.linregress(usable["rank_midpoint"], usable["accuracy"])
    bin_width = float(bins["rank_midpoint"].diff().median()) if len(bins) > 1 else 1.0
    return {
        "slope": float(fit.slope),
        "slope_per_bin": float(fit.slope * bin_width),
        "intercept": float(fit.intercept),
        "r": float(fit.rvalue),
        "p": float(fit.pvalue),
    }


def logistic_table(confidence: Sequence[float], correct: Sequence[bool], n_splits: int = 5, fraction: float = 0.8, seed: int = 42) -> dict[str, float]:
    """Table S3's procedure: fit ``LogisticRegression()`` (scikit-learn defaults) of correct on confidence
    on ``n_splits`` random ``fraction`` subsets (seed 42), then a one-sample t-test of the coefficients
    against 0. Returns the mean and SD of the coefficient, t, p and the number of fits."""
    x = np.asarray(confidence, dtype=float).reshape(-1, 1)
    y = np.asarray(correct, dtype=int)
    rng = np.random.RandomState(seed)
    coefficients = []
    for _ in range(n_splits):
        chosen = rng.choice(len(y), size=int(fraction * len(y)), replace=False)
        if len(np.unique(y[chosen])) < 2:
            continue  # a subset with one class cannot be fitted
        coefficients.append(float(LogisticRegression().fit(x[chosen], y[chosen]).coef_[0, 0]))
    values = np.asarray(coefficients)
    test = stats.ttest_1samp(values, 0.0) if len(values) > 1 else None
    return {
        "n_fits": len(values),
        "coef_mean": float(values.mean()) if len(values) else np.nan,
        "coef_sd": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
        "t": float(test.statistic) if test is not None else np.nan,
        "p": float(test.pvalue) if test is not None else np.nan,
    }


def model_choice_probability(ppl_a: Sequence[float], ppl_b: Sequence[float]) -> np.ndarray:
    """The model's probability for the option it chose: a two-way softmax of the negative log PPLs
    (per-token likelihoods), i.e. max(PPL_A, PPL_B) / (PPL_A + PPL_B). In [0.5, 1]."""
    a = np.asarray(ppl_a, dtype=float)
    b = np.asarray(ppl_b, dtype=float)
    return np.maximum(a, b) / (a + b)


def human_choice_probability(confidence: Sequence[float], scale_max: float = 100.0) -> np.ndarray:
    """A confidence rating 0..scale_max read as a probability 0.5..1 of being right."""
    return 0.5 + 0.5 * np.asarray(confidence, dtype=float) / scale_max


def expected_calibration_error(probability: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: bin the chosen option's probability into ``n_bins`` equal-width bins over [0.5, 1] and
    average |accuracy - mean probability| weighted by bin size."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(correct, dtype=float)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    error = 0.0
    for index in range(n_bins):
        in_bin = which == index
        if in_bin.any():
            error += in_bin.mean() * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(error)


def brier_score(probability: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean squared difference between the chosen option's probability and being right (0 best)."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(correct, dtype=float)
    return float(np.mean((p - y) ** 2))


HUMAN_EXPERTS = "human experts"


def calibration_by_model(results: pd.DataFrame, human_trials: pd.DataFrame | None = None, n_bins: int = 20) -> dict[str, pd.DataFrame]:
    """Calibration bins for each model (confidence |PPL_A - PPL_B|) and the humans (their rating)."""
    tables = {model: calibration_bins(group["confidence"], group["correct"], n_bins) for model, group in results.groupby("model", sort=False)}
    if human_trials is not None and not human_trials.empty:
        tables[HUMAN_EXPERTS] = calibration_bins(human_trials["confidence"], human_trials["correct"], n_bins)
    return tables


def calibration_summary(results: pd.DataFrame, human_trials: pd.DataFrame | None = None, n_bins: int = 20) -> pd.DataFrame:
    """One row per model (and the humans): the binned fit, Table S3's logistic regression, ECE and Brier."""
    rows = {}
    groups = [(model, group["confidence"], group["correct"], model_choice_probability(group["ppl_a"], group["ppl_b"])) for model, group in results.groupby("model", sort=False)]
    if human_trials is not None and not human_trials.empty:
        groups.append((HUMAN_EXPERTS, human_trials["confidence"], human_trials["correct"], human_choice_probability(human_trials["confidence"])))
    for name, confidence, correct, probability in groups:
        fit = calibration_fit(calibration_bins(confidence, correct, n_bins))
        logistic = logistic_table(confidence, correct)
        rows[name] = {
            "bin_slope_per_bin": fit["slope_per_bin"],
            "bin_fit_r": fit["r"],
            "bin_fit_p": fit["p"],
            "logistic_coef": logistic["coef_mean"],
            "logistic_t": logistic["t"],
            "logistic_p": logistic["p"],
            "ece": expected_calibration_error(probability, correct),
            "brier": brier_score(probability, correct),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame
