"""Accuracy statistics, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from brainbench.runs import accuracy_by_subfield, accuracy_stats, wilson_interval


def test_wilson_interval_by_hand() -> None:
    # 2/3, z=1.96: centre (0.6667 + 0.6402)/(1 + 1.2805) = 0.5731; half = 1.96*sqrt(0.07407 + 0.10671)/2.2805 = 0.3654
    low, high = wilson_interval(2, 3)
    assert low == pytest.approx(0.2077, abs=1e-4) and high == pytest.approx(0.9385, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_accuracy_stats_sem_is_the_papers() -> None:
    stats = accuracy_stats([True, True, False, True])
    assert stats["accuracy"] == 0.75 and stats["n_correct"] == 3
    assert stats["accuracy_sem"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))


def test_by_subfield_skips_errors() -> None:
    records = [
        {"status": "ok", "subfield": "B", "correct": True},
        {"status": "ok", "subfield": "A", "correct": False},
        {"status": "ok", "subfield": "B", "correct": False},
        {"status": "error", "subfield": "A"},
    ]
    table = accuracy_by_subfield(records)
    assert list(table) == ["A", "B"]
    assert (table["A"]["n"], table["B"]["accuracy"]) == (1, 0.5)
