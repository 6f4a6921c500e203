"""Is confidence calibrated? Binned accuracy vs confidence (the paper's Fig 4), the logistic-regression
table (Table S3, from one random stream shared by every model and the experts, as the paper), and two
measures the paper did not report: expected calibration error and Brier score."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression

from brainbench.analysis.accuracy import HUMAN_EXPERTS, PAPER_MODEL_SET


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
    for index, (low, high) in enumerate(itertools.pairwise(edges)):
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


MIN_POINTS = 10  # fewer items (or bins) than this give no fit or test worth printing: n/a


def calibration_fit(bins: pd.DataFrame) -> dict[str, float]:
    """Linear fit of bin accuracy on bin (rank) midpoint, as the paper's regression line; slope per
    rank is also given per bin (``slope_per_bin``) so that runs of different sizes compare."""
    usable = bins.dropna(subset=["accuracy"])
    bin_width = float(bins["rank_midpoint"].diff().median()) if len(bins) > 1 else 1.0
    if len(usable) < 3 or usable["accuracy"].nunique() < 2:  # a line through two points (or a flat one) is no fit
        return {"slope": np.nan, "slope_per_bin": np.nan, "intercept": np.nan, "r": np.nan, "p": np.nan}
    fit = stats.linregress(usable["rank_midpoint"], usable["accuracy"])
    return {
        "slope": float(fit.slope),
        "slope_per_bin": float(fit.slope * bin_width),
        "intercept": float(fit.intercept),
        "r": float(fit.rvalue),
        "p": float(fit.pvalue),
    }


def draw_subsets(rng: np.random.RandomState, n: int, n_splits: int = 5, fraction: float = 0.8) -> list[np.ndarray]:
    """Table S3's random subsets: ``n_splits`` draws of ``np.random.choice(n, int(fraction * n), replace=False)``.
    How far they advance ``rng`` depends only on ``n``, never on the data."""
    return [rng.choice(n, int(fraction * n), replace=False) for _ in range(n_splits)]


def logistic_fits(
    confidence: Sequence[float],
    correct: Sequence[bool],
    rng: np.random.RandomState,
    n_splits: int = 5,
    fraction: float = 0.8,
) -> dict[str, float]:
    """Table S3 for one model (or the experts): ``LogisticRegression(random_state=42)`` (scikit-learn
    defaults) of correct on confidence, fitted on each of ``draw_subsets`` (taken from ``rng``, which
    advances), then a one-sample t-test of the coefficients against 0, one-sided (coefficient > 0) as the
    paper reported it. Mean and SEM (ddof 1, ``scipy.stats.sem``) of coefficient and intercept."""
    x = np.asarray(confidence, dtype=float).reshape(-1, 1)
    y = np.asarray(correct, dtype=int)
    coefficients, intercepts = [], []
    for chosen in draw_subsets(rng, len(y), n_splits, fraction):
        if len(np.unique(y[chosen])) < 2:
            continue  # one class only: nothing to fit (the paper's code would stop here)
        fit = LogisticRegression(random_state=42).fit(x[chosen], y[chosen])
        coefficients.append(float(fit.coef_[0, 0]))
        intercepts.append(float(fit.intercept_[0]))
    enough = len(coefficients) > 1 and len(y) >= MIN_POINTS and np.ptp(coefficients) > 0  # else no t: n/a, not inf
    test = stats.ttest_1samp(coefficients, 0.0, alternative="greater") if enough else None
    return {
        "n": len(y),
        "n_fits": len(coefficients),
        "coef_mean": float(np.mean(coefficients)) if coefficients else np.nan,
        "coef_sem": float(stats.sem(coefficients)) if enough else np.nan,
        "intercept_mean": float(np.mean(intercepts)) if intercepts else np.nan,
        "intercept_sem": float(stats.sem(intercepts)) if enough else np.nan,
        "t": float(test.statistic) if test is not None else np.nan,
        "df": len(coefficients) - 1,
        "p_one_sided": float(test.pvalue) if test is not None else np.nan,
    }


def table_s3_order(models: Sequence[str]) -> list[str]:
    """The order in which Table S3 takes its subsets from the one seeded stream. The paper seeded numpy
    once and went through its 15 models in its model-list order, then the experts; so when any of the
    paper's models is among ``models``, all 15 of its slots come first in that order (a slot without a
    run is still drawn, so that every later slot gets the paper's subsets), then the experts, then the
    other runs in the order given. Without any of the paper's models: the runs in the order given, then
    the experts. A model's result therefore depends on which runs come before it."""
    if not set(models) & set(PAPER_MODEL_SET):
        return [*models, HUMAN_EXPERTS]
    return [*PAPER_MODEL_SET, HUMAN_EXPERTS, *(model for model in models if model not in PAPER_MODEL_SET)]


def table_s3(results: pd.DataFrame, human_trials: pd.DataFrame | None = None, seed: int = 42) -> pd.DataFrame:
    """Table S3: ``logistic_fits`` for each model (confidence: ``Decision.confidence``,
    |PPL_A - PPL_B| for pairs under ppl; items in dataset order)
    and the experts (their confidence rating, trials in file order), all from one
    ``RandomState(seed)`` in ``table_s3_order``. A paper model without a run advances the stream by
    the subsets of a run over as many items as the paper's models that are present scored (they all
    scored the whole dataset). Rows in stream order; ``stream_slot`` is each row's place in it."""
    runs = {model: group for model, group in results.groupby("model", sort=False)}
    has_humans = human_trials is not None and not human_trials.empty
    present_paper_runs = [len(runs[model]) for model in PAPER_MODEL_SET if model in runs]
    n_absent = max(present_paper_runs, default=0)
    rng = np.random.RandomState(seed)
    rows = {}
    for slot, name in enumerate(table_s3_order(list(runs))):
        if name == HUMAN_EXPERTS and has_humans:
            rows[name] = {
                "stream_slot": slot,
                **logistic_fits(human_trials["confidence"], human_trials["correct"], rng),
            }
        elif name in runs:
            rows[name] = {"stream_slot": slot, **logistic_fits(runs[name]["confidence"], runs[name]["correct"], rng)}
        elif name != HUMAN_EXPERTS:
            draw_subsets(rng, n_absent)  # a paper model without a run: its draws, without a fit
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame


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


def calibration_by_model(
    results: pd.DataFrame, human_trials: pd.DataFrame | None = None, n_bins: int = 20
) -> dict[str, pd.DataFrame]:
    """Calibration bins for each model (confidence: ``Decision.confidence``,
    |PPL_A - PPL_B| for pairs under ppl) and the humans (their rating)."""
    tables = {
        model: calibration_bins(group["confidence"], group["correct"], n_bins)
        for model, group in results.groupby("model", sort=False)
    }
    if human_trials is not None and not human_trials.empty:
        tables[HUMAN_EXPERTS] = calibration_bins(human_trials["confidence"], human_trials["correct"], n_bins)
    return tables


def calibration_fits(bins: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Fig 4's line per model (and the experts): ``calibration_fit`` of each one's bins (``calibration_by_model``):
    slope per rank, slope per bin, intercept, r and p, a row each."""
    frame = pd.DataFrame.from_dict({name: calibration_fit(table) for name, table in bins.items()}, orient="index")
    frame.index.name = "model"
    return frame


def calibration_summary(
    results: pd.DataFrame, human_trials: pd.DataFrame | None = None, n_bins: int = 20
) -> pd.DataFrame:
    """One row per model (and the humans): the binned fit, ECE and Brier (Table S3 is ``table_s3``)."""
    rows = {}
    groups = [
        (model, group["confidence"], group["correct"], model_choice_probability(group["ppl_a"], group["ppl_b"]))
        for model, group in results.groupby("model", sort=False)
    ]
    if human_trials is not None and not human_trials.empty:
        groups.append(
            (
                HUMAN_EXPERTS,
                human_trials["confidence"],
                human_trials["correct"],
                human_choice_probability(human_trials["confidence"]),
            )
        )
    for name, confidence, correct, probability in groups:
        fit = calibration_fit(calibration_bins(confidence, correct, n_bins))
        rows[name] = {
            "bin_slope_per_bin": fit["slope_per_bin"],
            "bin_fit_r": fit["r"],
            "bin_fit_p": fit["p"],
            "ece": expected_calibration_error(probability, correct),
            "brier": brier_score(probability, correct),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame
