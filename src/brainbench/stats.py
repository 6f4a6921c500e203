"""The statistics every stage shares, at the bottom of the package: a proportion's Wilson interval, accuracy with
the paper's SEM, a mean's t interval, and the ranked probability score of a forecast on a grid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(n_correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion: stays inside [0, 1] and behaves at small n, unlike the normal one."""
    if n == 0:
        return (math.nan, math.nan)
    p = n_correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_stats(correct: Sequence[bool]) -> dict[str, Any]:
    """n, n_correct, accuracy, the paper's SEM sqrt(acc(1-acc)/n) and a Wilson 95% CI."""
    n = len(correct)
    n_correct = sum(bool(value) for value in correct)
    accuracy = n_correct / n if n else math.nan
    sem = math.sqrt(accuracy * (1 - accuracy) / n) if n else math.nan
    return {
        "n": n,
        "n_correct": n_correct,
        "accuracy": accuracy,
        "accuracy_sem": sem,
        "accuracy_ci95": list(wilson_interval(n_correct, n)),
    }


def mean_t_interval(values: Sequence[float], quantile: float = 0.975) -> tuple[float, tuple[float, float]]:
    """(mean, its two-sided t interval) of ``values`` (sample SD, ddof 1; ``quantile`` 0.975: the 95% interval);
    the interval is NaN for fewer than two values."""
    n = len(values)
    mean = sum(values) / n if n else math.nan
    if n < 2:
        return mean, (math.nan, math.nan)
    from scipy import stats

    sd = math.sqrt(sum((value - mean) ** 2 for value in values) / (n - 1))
    half_width = float(stats.t.ppf(quantile, n - 1)) * sd / math.sqrt(n)
    return mean, (mean - half_width, mean + half_width)


def ranked_probability_score(p: Sequence[float], answer: int) -> float:
    """The ranked probability score of ``p`` when the true value is at ``answer``: 0 (sure and right) to 1."""
    total, score = 0.0, 0.0
    for index in range(len(p) - 1):
        total += p[index]
        score += (total - (1.0 if index >= answer else 0.0)) ** 2
    return score / (len(p) - 1)


def mid_rank(p: Sequence[float], answer: int) -> float:
    """The true value's rank by probability, 1 the most probable; values tied with it share their mean rank."""
    higher = sum(pk > p[answer] for pk in p)
    tied = sum(pk == p[answer] for pk in p) - 1
    return 1 + higher + tied / 2
