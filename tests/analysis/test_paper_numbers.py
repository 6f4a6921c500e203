"""The paper's numbers, reproduced from its released arrays and participant data."""

from __future__ import annotations

import numpy as np
import pytest

from brainbench.analysis import (
    accuracy_table,
    agreement_matrix,
    agreement_summary,
    expertise_calibration,
    finetuning_boost,
    human_summary,
    item_accuracy,
    logistic_fits,
    paired_comparison,
    participant_table,
    results_table,
    subfield_table,
    table_s3,
    trials_of,
)
from tests.analysis.paper_reference import RELEASED, folder, paper_table_s3


def test_human_experts(human_trials) -> None:
    assert human_trials["participant_id"].nunique() == 171 and len(human_trials) == 1514
    summary = human_summary(trials_of(human_trials, "human"))
    assert (summary.loc["all experts", "n_correct"], summary.loc["all experts", "n"]) == (641, 1011)
    assert round(100 * summary.loc["all experts", "accuracy"], 1) == 63.4
    assert (summary.loc["top 20% expertise", "n_correct"], summary.loc["top 20% expertise", "n"]) == (86, 130)
    assert round(100 * summary.loc["top 20% expertise", "accuracy"], 1) == 66.2
    # the tie rule matters, as METHODS.md says: keep='last' gives 69.2%
    assert round(100 * human_summary(trials_of(human_trials, "human"), keep="last").iloc[1]["accuracy"], 1) == 69.2


def test_published_model_accuracies(published_runs) -> None:
    table = accuracy_table(results_table(published_runs))
    accuracy = (100 * table["accuracy"]).round(1).to_dict()
    assert accuracy["mistralai--Mistral-7B-v0.1"] == 83.0
    assert accuracy["lora_r256_a512_finetune_mistral_7b_v01"] == 86.0  # BrainGPT
    assert accuracy["gpt2"] == 57.5


def test_subfields_cover_all_five_and_humans(published_runs, human_trials) -> None:
    table = subfield_table(results_table(published_runs), trials_of(human_trials, "human"))
    assert len(table) == 5
    assert table.loc["Systems/Circuits", "human experts"] == pytest.approx(145 / 258)
    assert table.loc["Development/Plasticity/Repair", "mistralai--Mistral-7B-v0.1"] == 1.0
    assert table["average model"].iloc[0] == pytest.approx(table.iloc[0, :5].mean())


def test_agreement_like_the_paper(published_runs, human_trials) -> None:
    results = results_table(published_runs)
    matrix = agreement_matrix(results, item_accuracy(trials_of(human_trials, "human")))
    summary = agreement_summary(matrix)
    # paper (15 models): model-human 0.15 +- 0.03; models agree far more with each other than with humans
    assert 0.10 < summary["model_human_mean"] < 0.20
    assert summary["model_model_mean"] > 3 * summary["model_human_mean"]
    # SDs as the paper's np.nanstd over the lower triangle: ddof 0
    models = list(published_runs)
    lower = [matrix.loc[a, b] for i, a in enumerate(models) for b in models[:i]]
    assert summary["model_model_sd"] == pytest.approx(np.std(lower), rel=1e-12)
    assert summary["model_human_sd"] == pytest.approx(np.std(matrix.loc[models, "human experts"]), rel=1e-12)


def test_table_s3_is_the_papers(data_dir, published_runs, human_trials) -> None:
    """Table S3 for the paper's two released models and the experts, exactly as the paper's procedure
    (one numpy stream seeded 42 over its 15 models, then the experts), and our other runs after them."""
    table = table_s3(results_table(published_runs), trials_of(human_trials, "human"))
    extra = ("lora_r256_a512_finetune_mistral_7b_v01", "gpt2", "TinyLlama--TinyLlama_v1.1")  # in the order given
    assert table.index.tolist() == ["meta-llama--Llama-2-7b-hf", "mistralai--Mistral-7B-v0.1", "human experts", *extra]
    reference = paper_table_s3(data_dir, {name: folder(name) for name in RELEASED}, extra)
    for name, expected in reference.items():
        for column in ("coef_mean", "coef_sem", "intercept_mean", "t", "p_one_sided"):
            assert table.loc[name, column] == pytest.approx(expected[column], rel=1e-9), (name, column)
    assert table.loc["human experts", "n"] == 1011 and (table["n_fits"] == 5).all() and (table["df"] == 4).all()
    # restarting the seed per model (brainbench before) gives another Mistral row
    mistral = results_table(published_runs).query("model == 'mistralai--Mistral-7B-v0.1'")
    restarted = logistic_fits(mistral["confidence"], mistral["correct"], np.random.RandomState(42))
    assert abs(restarted["coef_mean"] - table.loc["mistralai--Mistral-7B-v0.1", "coef_mean"]) > 1e-3


def test_figures_without_a_table(published_runs, human_trials) -> None:
    study = human_trials
    # participants: 171, mean 10.1 years of experience (one value each), by current position
    participants = participant_table(study)
    assert participants.loc["all", "n_participants"] == 171 and participants.loc["all", "n_trials"] == 1514
    assert round(participants.loc["all", "mean_experience_years"], 1) == 10.1
    assert participants["n_participants"].drop("all").to_dict() == {
        "Doctoral student": 51,
        "Faculty/Academic staff": 43,
        "Postdoctoral researcher": 43,
        "Predoctoral student": 18,
        "Research scientist": 12,
        "__other": 4,
    }
    # Fig 3B radar: top 20% by the subfield's 80th expertise percentile (76 trials, 59 right in Behavioral/Cognitive)
    human = trials_of(study, "human")
    radar = subfield_table(results_table(published_runs), human)["human experts (top 20%)"]
    assert radar["Behavioral/Cognitive"] == pytest.approx(59 / 76) and round(radar["Behavioral/Cognitive"], 3) == 0.776
    # expertise calibration: 4 bins overall and in each subfield
    calibration = expertise_calibration(human)
    assert calibration["n"].to_dict() == {
        "all experts": 1011,
        "Behavioral/Cognitive": 374,
        "Cellular/Molecular": 134,
        "Development/Plasticity/Repair": 127,
        "Neurobiology of Disease": 118,
        "Systems/Circuits": 258,
    }
    assert calibration.loc["all experts", "accuracy_bin_1"] < calibration.loc["all experts", "accuracy_bin_4"]


def test_braingpt_boost_ci_and_d_av(published_runs) -> None:
    boost = finetuning_boost(
        results_table(published_runs), "mistralai--Mistral-7B-v0.1", "lora_r256_a512_finetune_mistral_7b_v01"
    )
    assert round(boost["t_correct_ppl"], 2) == 15.71 and boost["n"] == 200
    assert 0 < boost["correct_ppl_drop_ci95_low"] < boost["correct_ppl_drop"] < boost["correct_ppl_drop_ci95_high"]
    assert boost["cohens_d_av_correct_ppl"] > 0


def test_braingpt_vs_mistral(published_runs) -> None:
    result = paired_comparison(
        results_table(published_runs), "lora_r256_a512_finetune_mistral_7b_v01", "mistralai--Mistral-7B-v0.1"
    )
    assert result["difference"] == pytest.approx(0.03)
    assert result["only_a_correct"] - result["only_b_correct"] == 6
    assert result["difference_ci95_low"] < 0.03 < result["difference_ci95_high"]
