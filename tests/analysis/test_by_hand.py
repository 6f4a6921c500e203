"""Each analysis on a few rows, with the expected values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from brainbench.analysis import (
    PAPER_MODEL_SET,
    accuracy_by_experience,
    accuracy_by_size,
    agreement_matrix,
    agreement_summary,
    brier_score,
    calibration_bins,
    calibration_fit,
    chat_pairs,
    chat_vs_base,
    default_model_set,
    difficulty_matrix,
    expected_calibration_error,
    expertise_calibration,
    finetuning_boost,
    human_choice_probability,
    logistic_fits,
    model_choice_probability,
    models_vs_humans,
    paired_comparison,
    parameters_billions,
    participant_table,
    results_table,
    size_families,
    subfield_table,
    table_s3,
    table_s3_order,
    top_expertise_by_subfield,
    top_expertise_trials,
)
from brainbench.analysis.calibration import draw_subsets


def results(rows: list[tuple[str, str, str, bool, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "doi", "subfield", "correct", "difficulty"])


def test_subfield_average_is_the_mean_of_model_accuracies() -> None:
    table = subfield_table(
        results(
            [
                ("m1", "a", "S", True, 1.0),
                ("m1", "b", "S", False, 1.0),
                ("m1", "c", "T", True, 1.0),
                ("m2", "a", "S", True, 1.0),
                ("m2", "b", "S", True, 1.0),
                ("m2", "c", "T", False, 1.0),
            ]
        )
    )
    assert table.loc["S"].tolist() == [0.5, 1.0, 0.75]
    assert table.loc["T"].tolist() == [1.0, 0.0, 0.5]


def test_models_vs_humans_by_hand() -> None:
    result = models_vs_humans([0.8, 0.9], 0.6)
    # mean 0.85, SD 0.0707 (ddof 1) or 0.05 (ddof 0); t = 0.25 / (0.0707 / sqrt 2) = 5.0
    assert result["t"] == pytest.approx(5.0) and result["df"] == 1
    assert result["sd_model_accuracy"] == pytest.approx(0.05)  # numpy's default ddof 0, as the paper
    # the paper's d_av (pingouin, paired with the human accuracy repeated): 0.25 / sqrt((0.005 + 0) / 2) = 5.0
    assert result["cohens_d_av"] == pytest.approx(5.0)
    assert result["cohens_d_one_sample"] == pytest.approx(0.25 / math.sqrt(0.005))  # 3.54, smaller by sqrt 2
    # 95% CI of the difference: 0.25 +- t(0.975, 1) * 0.0707 / sqrt 2 = 0.25 +- 12.706 * 0.05
    assert result["difference_ci95_low"] == pytest.approx(0.25 - 12.7062 * 0.05, abs=1e-4)
    assert result["difference_ci95_high"] == pytest.approx(0.25 + 12.7062 * 0.05, abs=1e-4)


def test_top_expertise_tie_rule() -> None:
    trials = pd.DataFrame(
        {
            "abstract_id": [1] * 5 + [2] * 5,
            "expertise": [9, 9, 1, 2, 3, 5, 4, 3, 2, 1],
            "correct": [True, False, True, True, True, True, False, False, False, False],
        }
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
    assert math.isnan(calibration_fit(bins)["r"])  # a line through two points is no fit: n/a
    confidence, correct = (
        [0.1, 0.6, 0.2, 0.5, 0.3, 0.4],
        [False, True, False, True, True, False],
    )  # ranks 0, 5, 1, 4, 2, 3
    fit = calibration_fit(calibration_bins(confidence, correct, n_bins=3))  # accuracy 0, 0.5, 1 at midpoints 1, 3, 5
    assert (
        fit["slope"] == pytest.approx(0.25)
        and fit["intercept"] == pytest.approx(-0.25)
        and fit["r"] == pytest.approx(1.0)
    )


def test_logistic_fits_detect_informative_confidence() -> None:
    rng = np.random.RandomState(0)
    confidence = rng.uniform(0, 100, 400)
    correct = rng.uniform(0, 1, 400) < 0.3 + 0.006 * confidence
    fits = logistic_fits(confidence, correct, np.random.RandomState(42))
    assert fits["n_fits"] == 5 and fits["df"] == 4 and fits["coef_mean"] > 0 and fits["p_one_sided"] < 0.01
    assert fits["coef_sem"] > 0 and not math.isnan(fits["intercept_mean"])
    noise = logistic_fits(rng.uniform(0, 100, 400), rng.uniform(0, 1, 400) < 0.5, np.random.RandomState(42))
    assert abs(noise["coef_mean"]) < abs(fits["coef_mean"])


def test_subsets_advance_the_stream_by_n_alone() -> None:
    a, b = np.random.RandomState(42), np.random.RandomState(42)
    subsets = draw_subsets(a, 10)
    assert [len(chosen) for chosen in subsets] == [8] * 5  # int(0.8 * 10)
    logistic_fits(np.arange(10.0), [0, 1] * 5, b)  # the same draws, whatever the data
    assert a.randint(1_000_000) == b.randint(1_000_000)


def test_table_s3_order() -> None:
    assert table_s3_order(["a", "b"]) == ["a", "b", "human experts"]
    order = table_s3_order(["x", "mistralai--Mistral-7B-v0.1", "y"])
    assert order == [*PAPER_MODEL_SET, "human experts", "x", "y"]


def test_table_s3_shares_one_stream_and_skips_absent_paper_models() -> None:
    rng = np.random.RandomState(7)
    llama, other = "meta-llama--Llama-2-7b-hf", "mine"  # the paper's 8th model (slot 7), and one of ours
    rows = []
    for model in (other, llama):
        confidence = rng.uniform(0, 10, 10)
        rows += [{"model": model, "confidence": c, "correct": bool(c > 4 + rng.uniform(-3, 3))} for c in confidence]
    results = pd.DataFrame(rows)
    humans = pd.DataFrame({"confidence": rng.uniform(0, 100, 20), "correct": [True, False] * 10})
    table = table_s3(results, humans)
    assert table.index.tolist() == [llama, "human experts", other]
    assert table["stream_slot"].tolist() == [7, 15, 16]
    stream = np.random.RandomState(42)
    for _ in range(7):  # the paper's first seven models have no run: their draws, over the llama run's 10 items
        draw_subsets(stream, 10)
    group = results[results["model"] == llama]
    assert table.loc[llama, "coef_mean"] == logistic_fits(group["confidence"], group["correct"], stream)["coef_mean"]
    for _ in range(7):  # and the seven after it
        draw_subsets(stream, 10)
    assert table.loc["human experts", "t"] == logistic_fits(humans["confidence"], humans["correct"], stream)["t"]
    group = results[results["model"] == other]
    assert table.loc[other, "coef_mean"] == logistic_fits(group["confidence"], group["correct"], stream)["coef_mean"]


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
            ("m1", "a", "S", True, 1.0),
            ("m1", "b", "S", True, 2.0),
            ("m1", "c", "S", True, 3.0),
            ("m2", "a", "S", True, 10.0),
            ("m2", "b", "S", True, 20.0),
            ("m2", "c", "S", True, 30.0),
            ("m3", "a", "S", True, 3.0),
            ("m3", "b", "S", True, 2.0),
            ("m3", "c", "S", True, 1.0),
        ]
    )
    humans = pd.Series({"a": 0.2, "b": 0.5, "c": 0.9})
    matrix = agreement_matrix(frame, humans)
    assert matrix.loc["m1", "m2"] == pytest.approx(1.0) and matrix.loc["m1", "m3"] == pytest.approx(-1.0)
    summary = agreement_summary(matrix)
    assert summary["model_model_mean"] == pytest.approx(-1 / 3)
    assert summary["model_human_mean"] == pytest.approx(1 / 3)
    # pairs (1, -1, -1) and with humans (1, 1, -1): SD with ddof 0 = sqrt(((4/3)^2 + 2 (2/3)^2) / 3) = 0.9428
    assert summary["model_model_sd"] == pytest.approx(math.sqrt(24 / 27))
    assert summary["model_human_sd"] == pytest.approx(math.sqrt(24 / 27))
    assert agreement_summary(matrix, models=["m1", "m2"])["model_model_sd"] == 0.0


def test_paired_comparison_by_hand() -> None:
    frame = results(
        [("a", d, "S", c, 0.0) for d, c in zip("pqrst", [True, True, True, True, False])]
        + [("b", d, "S", c, 0.0) for d, c in zip("pqrst", [True, False, False, False, False])]
    )
    result = paired_comparison(frame, "a", "b", n_bootstrap=2000)
    assert (result["only_a_correct"], result["only_b_correct"]) == (3, 0)
    assert result["mcnemar_p"] == pytest.approx(0.25)  # two-sided binomial, 3 of 3
    assert result["difference"] == pytest.approx(0.6)


def test_one_spelling_per_model() -> None:
    record = {
        "status": "ok",
        "item_id": 0,
        "doi": "d",
        "subfield": "S",
        "source": "human",
        "label": 0,
        "ppl_original": 2.0,
        "ppl_altered": 3.0,
        "ppl_a": 2.0,
        "ppl_b": 3.0,
        "correct": True,
        "confidence": 1.0,
    }
    assert results_table({"mistralai/Mistral-7B-v0.1": [record]})["model"].tolist() == ["mistralai--Mistral-7B-v0.1"]
    with pytest.raises(ValueError, match="two spellings"):
        results_table({"org/m": [record], "org--m": [record]})


def test_a_choice_run_keeps_its_own_difficulty() -> None:
    scored = {
        "status": "ok",
        "item_id": 0,
        "doi": "d",
        "subfield": "S",
        "source": "human",
        "label": 0,
        "ppl_original": 2.0,
        "ppl_altered": 3.0,
        "correct": True,
        "confidence": 1.0,
    }
    # asked in both orders: P(real) 0.9, P(altered) 0.1 -> difficulty 0.8; no PPL
    asked = {
        **scored,
        "protocol": "choice",
        "ppl_original": None,
        "ppl_altered": None,
        "p_versions": [0.9, 0.1],
        "difficulty": 0.8,
    }
    table = results_table({"scorer": [scored], "chooser": [asked]})
    assert table["difficulty"].tolist() == pytest.approx([1.0, 0.8])
    assert difficulty_matrix(table).columns.tolist() == ["scorer", "chooser"]


def test_paper_set_is_the_default_only_when_complete() -> None:
    assert default_model_set([*PAPER_MODEL_SET, "braingpt"]) == list(PAPER_MODEL_SET)
    assert default_model_set([*PAPER_MODEL_SET[:14], "braingpt"]) == [*PAPER_MODEL_SET[:14], "braingpt"]


def test_pairs_and_families_from_names() -> None:
    pairs = chat_pairs(list(PAPER_MODEL_SET))
    assert sorted(chat for _, chat in pairs) == sorted(
        [
            "tiiuae--falcon-40b-instruct",
            "tiiuae--falcon-180B-chat",
            "meta-llama--Llama-2-7b-chat-hf",
            "meta-llama--Llama-2-13b-chat-hf",
            "meta-llama--Llama-2-70b-chat-hf",
            "mistralai--Mistral-7B-Instruct-v0.1",
        ]
    )
    assert ("meta-llama--Llama-2-13b-hf", "meta-llama--Llama-2-13b-chat-hf") in pairs
    families = size_families(list(PAPER_MODEL_SET))
    assert {family: [size for _, size in members] for family, members in families.items()} == {
        "facebook--galactica": [6.7, 30, 120],
        "tiiuae--falcon": [40, 180],
        "meta-llama--Llama-2-hf": [7, 13, 70],
    }
    assert parameters_billions("HuggingFaceTB--SmolLM2-135M-Instruct") == 0.135
    assert parameters_billions("gpt2") is None
    assert chat_pairs(["HuggingFaceTB--SmolLM2-135M", "HuggingFaceTB--SmolLM2-135M-Instruct"]) == [
        ("HuggingFaceTB--SmolLM2-135M", "HuggingFaceTB--SmolLM2-135M-Instruct")
    ]


def test_chat_vs_base_and_size_by_hand() -> None:
    outcomes = {"org--m-7b": [1, 1, 1, 1, 0], "org--m-7b-chat": [1, 0, 1, 0, 0], "org--m-70b": [1, 1, 1, 1, 1]}
    frame = results(
        [(model, doi, "S", bool(c), 0.0) for model, values in outcomes.items() for doi, c in zip("pqrst", values)]
    )
    chat = chat_vs_base(frame)
    pair = chat["pairs"].loc["org--m-7b-chat"]
    assert pair["base"] == "org--m-7b" and pair["difference"] == pytest.approx(-0.4)
    assert (pair["only_chat_correct"], pair["only_base_correct"]) == (0, 2)
    assert chat["mean_difference"]["n"] == 1 and chat["mean_difference"]["mean"] == pytest.approx(-0.4)
    size = accuracy_by_size(frame)
    family = size["families"].loc["org--m"]
    # 0.8 at 7B, 1.0 at 70B: +0.2 per tenfold; the chat model is no member of the base family
    assert family["slope_per_tenfold"] == pytest.approx(0.2) and family["difference"] == pytest.approx(0.2)
    assert size["models"].index.tolist() == ["org--m-7b", "org--m-70b"]
    assert (
        chat_vs_base(frame[frame["model"] != "org--m-7b"]) == {}
        and accuracy_by_size(frame[frame["model"] != "org--m-70b"]) == {}
    )


def test_expertise_calibration_by_hand() -> None:
    trials = pd.DataFrame(
        {
            "subfield": ["A"] * 4 + ["B"] * 4,
            "expertise": [10, 20, 30, 40, 5, 15, 25, 35],
            "correct": [False, False, True, True, True, False, True, False],
        }
    )
    table = expertise_calibration(trials)  # 4 equal-count bins of ranked expertise, as the paper
    bins = [f"accuracy_bin_{index}" for index in range(1, 5)]
    # all 8 by expertise: 5 T, 10 F | 15 F, 20 F | 25 T, 30 T | 35 F, 40 T
    assert table.loc["all experts", bins].tolist() == [0.5, 0.0, 1.0, 0.5]
    assert table.loc["A", bins].tolist() == [0.0, 0.0, 1.0, 1.0] and table.loc["B", bins].tolist() == [
        1.0,
        0.0,
        1.0,
        0.0,
    ]
    assert table.loc["A", "slope_per_bin"] == pytest.approx(0.4)  # least squares through (0, 0), (1, 0), (2, 1), (3, 1)
    assert table["n"].tolist() == [8, 4, 4]


def test_top_expertise_by_subfield_percentile_rule() -> None:
    trials = pd.DataFrame(
        {
            "subfield": ["A"] * 5 + ["B"] * 5,
            "expertise": [1, 2, 3, 4, 5, 7, 7, 7, 1, 1],
            "correct": [False, False, False, False, True, True, False, True, True, True],
        }
    )
    top = top_expertise_by_subfield(trials)
    assert top["A"] == 1.0  # 80th percentile of 1..5 is 4.2: only the 5 is kept
    assert top["B"] == pytest.approx(2 / 3)  # the cut-off is 7: all three tied at it are kept
    table = subfield_table(results([("m", "a", "A", True, 1.0), ("m", "b", "B", False, 1.0)]), trials)
    assert table.loc["B", "human experts (top 20%)"] == pytest.approx(2 / 3)


def test_subfield_average_over_the_model_set() -> None:
    frame = results([("m1", "a", "S", True, 1.0), ("m2", "a", "S", False, 1.0), ("m3", "a", "S", False, 1.0)])
    assert subfield_table(frame, models=["m1", "m2"]).loc["S", "average model"] == 0.5


def test_participant_table_by_hand() -> None:
    trials = pd.DataFrame(
        {
            "participant_id": [1, 1, 2, 3, 3, 3],
            "position": ["PhD", "PhD", "PhD", "Faculty", "Faculty", "Faculty"],
            "experience_years": [2, 2, 4, 20, 20, 20],
        }
    )
    table = participant_table(trials)
    assert table.loc["all"].tolist() == [3, 1.0, pytest.approx(26 / 3), 6]  # one experience value per participant
    assert table.loc["PhD"].tolist() == [2, pytest.approx(2 / 3), 3.0, 3]
    assert table.loc["Faculty", "n_trials"] == 3


def test_finetuning_boost_ci_and_d_av_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "model": ["base"] * 3 + ["tuned"] * 3,
            "item_id": [0, 1, 2] * 2,
            "ppl_original": [10.0, 12.0, 14.0, 9.0, 10.0, 12.0],
            "ppl_altered": [11.0, 11.0, 15.0, 10.0, 11.0, 13.0],
            "correct": [True, False, True, True, True, True],
        }
    )
    boost = finetuning_boost(frame, "base", "tuned")
    # drops 1, 2, 2: mean 5/3, SEM 1/3, t(0.975, 2) = 4.3027; variances 4 and 7/3 (ddof 1)
    assert boost["correct_ppl_drop"] == pytest.approx(5 / 3)
    assert boost["correct_ppl_drop_ci95_low"] == pytest.approx(5 / 3 - 4.30265 / 3, abs=1e-5)
    assert boost["cohens_d_av_correct_ppl"] == pytest.approx((5 / 3) / math.sqrt((4 + 7 / 3) / 2))
    assert boost["t_correct_ppl"] == pytest.approx(5.0) and boost["boost"] == pytest.approx(1 / 3)
