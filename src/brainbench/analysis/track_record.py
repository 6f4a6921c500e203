"""How far to trust a model's confidence: how often it was right on BrainBench when it was about as confident.

A run of the model on brainbench-human gives, per item, the model's confidence in its choice (``p_chosen``: the
chosen version's softmax share under the decision rule) and whether the choice was right. The items are cut into
equal-count bins of confidence (at most 5, at least 20 items each, so that each bin's accuracy means something);
a new prediction is read against the bin its confidence falls in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brainbench.analysis.calibration import expected_calibration_error
from brainbench.stats import wilson_interval

MAX_BINS = 5
MIN_PER_BIN = 20


def confidence_bins(
    confidence: Sequence[float], max_bins: int = MAX_BINS, min_per_bin: int = MIN_PER_BIN
) -> list[np.ndarray]:
    """Item indices in equal-count bins of ascending confidence (ties kept in item order)."""
    n_bins = max(1, min(max_bins, len(confidence) // min_per_bin))
    return np.array_split(np.argsort(np.asarray(confidence, dtype=float), kind="stable"), n_bins)


def _accuracy(correct: np.ndarray) -> dict[str, Any]:
    n_correct = int(correct.sum())
    return {
        "n": len(correct),
        "n_correct": n_correct,
        "accuracy": n_correct / len(correct) if len(correct) else float("nan"),
        "accuracy_ci95": list(wilson_interval(n_correct, len(correct))),
    }


def track_record(
    confidence: Sequence[float],
    correct: Sequence[bool],
    at: float,
    *,
    max_bins: int = MAX_BINS,
    min_per_bin: int = MIN_PER_BIN,
) -> dict[str, Any]:
    """The run's accuracy overall and in the confidence bin that holds ``at`` (the first bin whose highest
    confidence reaches it, else the highest bin), that bin's range and mean confidence, and the run's expected
    calibration error (``expected_calibration_error``, for two-way choices)."""
    confidence_array = np.asarray(confidence, dtype=float)
    correct_array = np.asarray(correct, dtype=bool)
    bins = confidence_bins(confidence_array, max_bins, min_per_bin)
    index = next((k for k, members in enumerate(bins) if confidence_array[members].max() >= at), len(bins) - 1)
    members = bins[index]
    return {
        **_accuracy(correct_array),
        "ece": expected_calibration_error(confidence_array, correct_array),
        "n_bins": len(bins),
        "bin": {
            "index": index,
            "confidence_low": float(confidence_array[members].min()),
            "confidence_high": float(confidence_array[members].max()),
            "mean_confidence": float(confidence_array[members].mean()),
            **_accuracy(correct_array[members]),
        },
    }
