"""Graded cases as forecasts: the model's distribution over a case's grid of values, and how good a forecast it is.

The model's probability for each value is the softmax, over the case's versions, of each version's number
under the decision rule (``brainbench.scoring.rules``: mean log-likelihood per token for ``ppl``; also ``sum``
and ``bytes``). It is a relative probability: how the model ranks the values against each other, not a
calibrated belief, until calibration says otherwise. From it, per case:

- ``mean``, ``sd``: the distribution's mean and standard deviation over the grid's numbers;
- ``rank``: the true value's rank by probability (1: the most probable; ties share their mean rank);
- ``abs_error``: |mean - truth|, and ``relative_error``: that over the grid's range (max - min);
- ``interval_50``, ``interval_80``: the central intervals, from the (1 - c)/2 to the (1 + c)/2 quantile of
  the discrete distribution; on a grid they hold at least c of the probability (``mass_50``, ``mass_80``),
  and ``in_50``, ``in_80`` say whether the true value lies inside;
- ``rps``: the ranked probability score (the discrete CRPS over the grid's order), sum over k < K of
  (F_k - O_k)^2 divided by K - 1, with F the forecast's and O the truth's cumulative distribution: 0 for a
  sure right forecast, 1 for a sure forecast of the far end; the uniform grid of 5 scores 0.1 (the truth in
  the middle) to 0.3 (at an end).

``uniform_forecast`` is the same for the forecast that knows nothing (each value 1/K): the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from brainbench.data.grid import version_order
from brainbench.scoring.rules import OptionScore, option_value, softmax
from brainbench.stats import mid_rank, ranked_probability_score

INTERVALS = (0.5, 0.8)
_TOLERANCE = 1e-12  # cumulative sums of probabilities that should reach a level exactly


def grid_probabilities(
    options: Sequence[OptionScore], grid: Mapping[str, Any], normalisation: str = "ppl"
) -> list[float]:
    """The softmax over a graded case's versions (real first, as stored) put back in grid order."""
    by_version = softmax([option_value(option, normalisation) for option in options])
    p = [0.0] * len(grid["values"])
    for version, index in enumerate(version_order(grid["answer"], len(grid["values"]))):
        p[index] = by_version[version]
    return p


def moments(p: Sequence[float], x: Sequence[float]) -> tuple[float, float]:
    """(mean, standard deviation) of the distribution ``p`` over the numbers ``x``."""
    mean = sum(pk * xk for pk, xk in zip(p, x))
    return mean, math.sqrt(max(0.0, sum(pk * (xk - mean) ** 2 for pk, xk in zip(p, x))))


def quantile_index(p: Sequence[float], level: float) -> int:
    """The first grid index whose cumulative probability reaches ``level``."""
    total = 0.0
    for index, pk in enumerate(p):
        total += pk
        if total >= level - _TOLERANCE:
            return index
    return len(p) - 1


def central_interval(p: Sequence[float], coverage: float) -> tuple[int, int]:
    """(low, high) grid indices of the central ``coverage`` interval: the (1 - c)/2 and (1 + c)/2 quantiles."""
    return quantile_index(p, (1 - coverage) / 2), quantile_index(p, (1 + coverage) / 2)


def describe_distribution(p: Sequence[float], numeric: Sequence[float]) -> dict[str, Any]:
    """``p`` (in grid order), its mean and SD over ``numeric``, and its central 50% and 80% intervals (as numbers,
    with the probability each holds): what a forecast says before the truth is known."""
    mean, sd = moments(p, numeric)
    described: dict[str, Any] = {"p": list(p), "mean": mean, "sd": sd}
    for coverage in INTERVALS:
        low, high = central_interval(p, coverage)
        described[f"interval_{round(100 * coverage)}"] = [numeric[low], numeric[high]]
        described[f"mass_{round(100 * coverage)}"] = sum(p[low : high + 1])
    return described


def forecast(p: Sequence[float], numeric: Sequence[float], answer: int) -> dict[str, Any]:
    """Everything the module docstring lists, for one case (``p`` in grid order; the truth at ``answer``)."""
    described = describe_distribution(p, numeric)
    truth, error = numeric[answer], abs(described["mean"] - numeric[answer])
    scored = {
        "truth": truth,
        "rank": mid_rank(p, answer),
        "abs_error": error,
        "relative_error": error / (numeric[-1] - numeric[0]),
        "rps": ranked_probability_score(p, answer),
    }
    for coverage in INTERVALS:
        low, high = described[f"interval_{round(100 * coverage)}"]
        scored[f"in_{round(100 * coverage)}"] = low <= truth <= high
    return {**described, **scored}


def record_forecast(
    options: Sequence[OptionScore], grid: Mapping[str, Any], normalisation: str = "ppl"
) -> dict[str, Any]:
    """The model's forecast for a graded case from its versions' scores (real first)."""
    return forecast(grid_probabilities(options, grid, normalisation), grid["numeric"], grid["answer"])


def uniform_forecast(grid: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline that knows nothing: every value of the grid equally likely."""
    n = len(grid["values"])
    return forecast([1 / n] * n, grid["numeric"], grid["answer"])
