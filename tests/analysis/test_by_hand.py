"""Each analysis on a few rows, with the expected values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from brainbench.analysis import (
    accuracy_by_experience,
    agreement_matrix,
    agreement_summary,
    brier_score,
    calibration_bins,
    calibration_fit,
    expected_calibration_error,
    human_choice_probability,
    logistic_table,
    model_choice_probability,
    models_vs_humans,
    paired_comparison,
    subfield_table,
    top_expertise_trials,
)


def results(rows: list[tuple[str, str, str, bool, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "doi", "subfield", "correct", "difficulty"])


def test_subfield_average_is_the_mean_of_model_accuracies() -> None:
    table = subfield_table(
        results(
            [
                ("m1", "a", "S", True, 1.0), ("m1", "b", "S", False, 1.0), ("m1", "c", "T", True, 1.0),
                ("m2", "a", "S", True, 1.0), ("m2", "b", "S", True, 1.0), ("m2", "c", "T", False, 1.0),
            ]
        )
    )
    assert table.loc["S"].tolist() == [0.5, 1.0, 0.75]
    assert table.loc["T"].tolist() == [1.0, 0.0, 0.5]


def test_models_vs_humans_by_hand() -> None:
    result = models_vs_humans([0.8, 0.9], 0.6)
    # mean 0.85, sd 0.0707; t = 0.25 / (0.0707 / sqrt 2) = 5.0; d = 0.25 / 0.0707 = 3.536
    assert result["t"] == pytest.approx(5.0) and result["df"] == 1
    assert result["cohens_d"] == pytest.approx(0.25 / math.sqrt(0.005))


def test_top_expertise_tie_rule() -> None:
    trials = pd.DataFrame(
        {"abstract_id": [1] * 5 + [2] * 5, "expertise": [9, 9, 1, 2, 3, 5, 4, 3, 2, 1], "correct": [True, False, True, True, True, True, False, False, False, False]}
    )
    first = top_expertise_trials(trials, 0.2)  # int(0.2 * 5) = 1 per abstract
    assert first.index.tolist() == [0, 5]
    assert top_expertise_trials(trials, 0.2, keep="last").index.tolist() == [1, 5]
    assert top_expertise_trials(trials, 0.2, keep="all").index.tolist() == [0, 1, 5]


def test_experience_bins() -> None:
    trials = pd.DataFrame({"experience_years": [0, 4, 5, 30], "correct": [True, False, True, True]})
    table = accuracy_by_experience(trials, edges=(0, 5, np.inf))
    assert table["n"].tolist() == [2, 2] and table["accuracy"].tolist() == [0.5, 1.0]
    assert table.index.tolist() == ["0-4", "5+"]


def test_calibration_bins_by_rank() -> None:
    confidence = [0.1, 0.4, 0.2, 0.3]  # ranks 0, 3, 1, 2
    correct = [False, True, False, True]
    bins = calibration_bins(confidence, correct, n_bins=2)  # ranks [0, 2) and [2, 4)
    assert bins["n"].tolist() == [2, 2]
    assert bins["accuracy"].tolist() == [0.0, 1.0]
    assert bins["rank_midpoint"].tolist() == [1.0, 3.0]
    fit = calibration_fit(bins)
    assert fit["slope"] == pytest.approx(0.5) and fit["intercept"] == pytest.approx(-0.5)


def test_logistic_table_detects_informative_confidence() -> None:
    rng = np.random.RandomState(0)
    confidence = rng.uniform(0, 100, 400)
    correct = rng.uniform(0, 1, 400) < 0.3 + 0.006 * confidence
    table = logistic_table(confidence, correct)
    assert table["n_fits"] == 5 and table["coef_mean"] > 0 and table["p"] < 0.01
    noise = logistic_table(rng.uniform(0, 100, 400), rng.uniform(0, 1, 400) < 0.5)
    assert abs(noise["coef_mean"]) < abs(table["coef_mean"])


def test_probabilities_ece_brier() -> None:
    assert model_choice_probability([2.0, 3.0], [2.0, 1.0]).tolist() == [0.5, 0.75]
    assert human_choice_probability([0, 50, 100]).tolist() == [0.5, 0.75, 1.0]
    p = [0.55, 0.55, 0.95, 0.95]
    y = [True, False, True, True]
    # bins: [0.5, 0.55) empty, 0.55 -> bin 1 with acc 0.5, 0.95 -> last bin with acc 1.0
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    assert brier_score(p, y) == pytest.approx((0.45**2 + 0.55**2 + 0.05**2 + 0.05**2) / 4)


def test_agreement_by_hand() -> None:
    frame = results(
        [
            ("m1", "a", "S", True, 1.0), ("m1", "b", "S", True, 2.0), ("m1", "c", "S", True, 3.0),
            ("m2", "a", "S", True, 10.0), ("m2", "b", "S", True, 20.0), ("m2", "c", "S", True, 30.0),
            ("m3", "a", "S", True, 3.0), ("m3", "b", "S", True, 2.0), ("m3", "c", "S", True, 1.0),
        ]
    )
    humans = pd.Series({"a": 0.2, "b": 0.5, "c": 0.9})
    matrix = agreement_matrix(frame, humans)
    assert matrix.loc["m1", "m2"] == pytest.approx(1.0) and matrix.loc["m1", "m3"] == pytest.approx(-1.0)
    summary = agreement_summary(matrix)
    assert summary["model_model_mean"] == pytest.approx(-1 / 3)
    assert summary["model_human_mean"] == pytest.approx(1 / 3)


def test_paired_comparison_by_hand() -> None:
    frame = results(
        [("a", d, "S", c, 0.0) for d, c in zip("pqrst", [True, True, True, True, False])]
        + [("b", d, "S", c, 0.0) for d, c in zip("pqrst", [True, False, False, False, False])]
    )
    result = paired_comparison(frame, "a", "b", n_bootstrap=2000)
    assert (result["only_a_correct"], result["only_b_correct"]) == (3, 0)
    assert result["mcnemar_p"] == pytest.approx(0.25)  # two-sided binomial, 3 of 3
    assert result["difference"] == pytest.approx(0.6)
