"""Human–AI teams: signed evidence, expert pairing, folds by item, the combination and its CIs,
by hand on tiny tables, then on the published runs with the experts' trials."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainbench.analysis import results_table, team_analysis, team_trials, trials_of
from brainbench.analysis.team import (
    HUMAN,
    PARTNER,
    combine,
    human_evidence,
    item_bootstrap,
    item_folds,
    model_evidence,
    pair_experts,
    team_accuracy,
)
from brainbench.data import load_dataset
from brainbench.errors import AnalysisError
from brainbench.runs import load_run
from brainbench.runs.published import import_published

MISTRAL, LLAMA = "mistralai--Mistral-7B-v0.1", "meta-llama--Llama-2-7b-hf"


def test_signed_evidence_points_at_option_b() -> None:
    # label 1: B is the original. Right and 80 sure -> +80 (chose B); wrong and 30 sure -> -30 (chose A).
    assert human_evidence([True, False, True], [80, 30, 80], [1, 1, 0]).tolist() == [80, -30, -80]
    # log PPL_A - log PPL_B: with label 1, A is the altered version (PPL e^2) and B the original (PPL e^1).
    evidence = model_evidence([math.e, math.e], [math.e**2, math.e**2], [1, 0])
    assert evidence == pytest.approx([1.0, -1.0])


def test_experts_pair_with_another_expert_on_the_same_item() -> None:
    trials = pd.DataFrame({"doi": ["x", "x", "x", "y", "z", "z"], "participant_id": [1, 2, 3, 4, 5, 5]})
    partner = pair_experts(trials, seed=0)
    assert partner[3] == -1 and partner[4] == -1 and partner[5] == -1  # alone on y; only the same expert on z
    for row in range(3):
        assert partner[row] in {0, 1, 2} - {row}
    assert pair_experts(trials, seed=0).tolist() == partner.tolist()


def test_item_folds_deal_items_evenly_and_follow_the_seed() -> None:
    items = [f"doi{i}" for i in range(10)] * 3  # each item three times
    folds = item_folds(items, n_folds=5, seed=0)
    assert sorted(folds) == sorted(set(items))
    assert np.bincount(list(folds.values())).tolist() == [2, 2, 2, 2, 2]
    assert item_folds(items, 5, seed=0) == folds and item_folds(items, 5, seed=1) != folds


def test_item_bootstrap_resamples_whole_items() -> None:
    # item x: 3 trials, all right; item y: 1 trial, wrong. A resample is xx (1.0), xy or yx (3/4) or yy (0).
    draws = item_bootstrap(
        {"member": np.array([True, True, True, False])}, ["x", "x", "x", "y"], n_bootstrap=4000, seed=0
    )
    values = draws["member"].round(6)
    assert set(values) == {0.0, 0.75, 1.0}
    assert values.value_counts(normalize=True)[0.75] == pytest.approx(0.5, abs=0.03)
    assert values.mean() == pytest.approx(0.625, abs=0.02)


def hand_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """20 items, option B the original on odd ones. Model "left" is sure (log PPL ratio 2) and right on
    items 0-9, unsure (0.1) and wrong on items 10-19; model "right" the reverse. Each item has two
    experts: the first right and 80 sure, the second wrong and 20 sure."""
    result_rows, trial_rows = [], []
    for i in range(20):
        doi, label = f"doi{i}", i % 2
        for model, sure in (("left", i < 10), ("right", i >= 10)):
            altered = math.e**2 if sure else math.e**-0.1  # sure and right, or unsure and wrong
            result_rows.append(
                {
                    "model": model,
                    "doi": doi,
                    "source": "human",
                    "subfield": "S" if i < 10 else "T",
                    "label": label,
                    "ppl_original": 1.0,
                    "ppl_altered": altered,
                    "correct": sure,
                }
            )
        trial_rows.append(
            {
                "doi": doi,
                "source": "human",
                "subfield": "S" if i < 10 else "T",
                "participant_id": 2 * i,
                "correct": True,
                "confidence": 80.0,
            }
        )
        trial_rows.append(
            {
                "doi": doi,
                "source": "human",
                "subfield": "S" if i < 10 else "T",
                "participant_id": 2 * i + 1,
                "correct": False,
                "confidence": 20.0,
            }
        )
    return pd.DataFrame(result_rows), pd.DataFrame(trial_rows)


def test_team_of_two_half_right_models_is_always_right_by_hand() -> None:
    results, trials = hand_case()
    data = team_trials(results, trials)
    assert len(data.trials) == 40
    # Item 1 (label 1, B original): "left" is sure and right -> evidence +2 for B; "right" unsure and wrong -> -0.1.
    first = data.trials.index[data.trials["doi"] == "doi1"][0]
    assert data.evidence.loc[first, "left"] == pytest.approx(2.0) and data.evidence.loc[
        first, "right"
    ] == pytest.approx(-0.1)
    row, per_trial = team_accuracy(data, "left", "right")
    # Alone each model is right on 10 of 20 items (20 of 40 trials); they disagree everywhere. Weighing
    # by confidence, the sure one (2 against 0.1) always wins: the team is right on every trial.
    assert (row["n_trials"], row["n_items"], row["acc_a"], row["acc_b"], row["acc_team"]) == (40, 20, 0.5, 0.5, 1.0)
    assert (row["gain"], row["n_disagree"], row["acc_team_disagree"]) == (0.5, 40, 1.0)
    assert row["acc_team_ci95_low"] == row["acc_team_ci95_high"] == 1.0
    assert row["gain_ci95_low"] <= 0.5 <= row["gain_ci95_high"]
    assert row["weight_a"] > 0 and row["weight_b"] > 0
    assert per_trial.groupby("doi")["fold"].nunique().max() == 1  # an item's trials share a fold


def test_two_experts_by_hand() -> None:
    results, trials = hand_case()
    tables = team_analysis(results, trials)
    experts = tables["teams"].loc[f"{HUMAN} + {PARTNER}"]
    # On each item one expert is right (80 sure) and one wrong (20 sure), and each is the other's only
    # partner: alone 50% each, together (80 against 20) always right.
    assert (experts["n_trials"], experts["acc_a"], experts["acc_b"], experts["acc_team"]) == (40, 0.5, 0.5, 1.0)
    assert list(tables["teams"]["team_type"]) == ["human-LLM", "human-LLM", "LLM-LLM", "human-human"]
    by_subfield = tables["by_subfield"].loc[("left + right", "S")]
    assert (by_subfield["n_trials"], by_subfield["acc_a"], by_subfield["acc_b"], by_subfield["acc_team"]) == (
        20,
        1.0,
        0.0,
        1.0,
    )
    # Shuffling the experts' confidences (choices kept) leaves 80 and 20 mixed at random: the pair
    # can no longer tell who is right, and loses most of its gain.
    calibration = tables["calibration"].loc[(f"{HUMAN} + {PARTNER}", HUMAN)]
    assert calibration["gain"] == 0.5 and calibration["gain_shuffled"] < 0.5
    assert calibration["confidence_auc"] == 1.0  # the experts are surer exactly when right


def test_trials_match_the_runs_kind_of_item() -> None:
    results, trials = hand_case()
    # A dataset of your own (any source label) meets your study's export, which files it as human-made.
    assert len(team_trials(results.assign(source="my-lab"), trials).trials) == 40
    with pytest.raises(AnalysisError, match="no expert trial"):
        team_trials(results, trials.assign(source="gpt4"))  # the same DOIs, but trials on GPT-4-made versions


def test_a_choice_run_has_no_team_evidence() -> None:
    results, trials = hand_case()
    answered = results.assign(ppl_original=None, ppl_altered=None)[results["model"] == "right"].assign(model="chooser")
    with pytest.raises(AnalysisError, match="chooser: no perplexities"):
        team_trials(pd.concat([results, answered]), trials)


@pytest.fixture(scope="module")
def published_team(published_runs, human_trials) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = results_table({name: published_runs[name] for name in (MISTRAL, LLAMA)})
    return results, trials_of(human_trials, "human")


def test_no_item_is_predicted_by_a_fit_that_saw_it(published_team) -> None:
    results, trials = published_team
    data = team_trials(results, trials)
    evidence = data.evidence[[HUMAN, MISTRAL]].to_numpy()
    label = data.trials["label"].to_numpy()
    items = data.trials["doi"].to_numpy()
    predicted, fold, _ = combine(evidence, label, items.tolist())
    for k in range(5):
        in_fold = fold == k
        assert not set(items[in_fold]) & set(items[~in_fold])  # no item has trials on both sides
        # Flip the truth of every item in fold k: its own predictions cannot change (its fit never saw
        # those labels), while the other folds' fits, which did, change some of theirs.
        flipped = np.where(in_fold, 1 - label, label)
        again, _, _ = combine(evidence, flipped, items.tolist())
        assert (again[in_fold] == predicted[in_fold]).all()
        assert (again[~in_fold] != predicted[~in_fold]).any()


def test_published_teams(published_team) -> None:
    results, trials = published_team
    tables = team_analysis(results, trials)
    teams = tables["teams"]
    assert list(teams.index) == [
        f"{HUMAN} + {MISTRAL}",
        f"{HUMAN} + {LLAMA}",
        f"{MISTRAL} + {LLAMA}",
        f"{HUMAN} + {PARTNER}",
    ]
    human_llm = teams.loc[f"{HUMAN} + {MISTRAL}"]
    # The paper's experts on human-made items, 641 of 1011 trials right; Mistral judged on those same trials.
    assert (human_llm["n_trials"], human_llm["n_items"], round(human_llm["acc_a"] * 1011)) == (1011, 200, 641)
    mistral = results[results["model"] == MISTRAL].set_index("doi")["correct"]
    assert human_llm["acc_b"] == pytest.approx(mistral.loc[trials["doi"]].mean())
    for _, row in teams.iterrows():
        assert row["acc_team_ci95_low"] <= row["acc_team"] <= row["acc_team_ci95_high"]
        assert row["gain_ci95_low"] <= row["gain"] <= row["gain_ci95_high"]
        assert row["gain"] == pytest.approx(row["acc_team"] - max(row["acc_a"], row["acc_b"]))
    # Only trials on items another expert also judged make human-human pairs (2 items had one expert).
    assert (teams.loc[f"{HUMAN} + {PARTNER}", "n_trials"], teams.loc[f"{HUMAN} + {PARTNER}", "n_items"]) == (1009, 198)
    assert set(tables["by_subfield"].index.get_level_values("subfield")) == set(trials["subfield"])
    assert len(tables["calibration"]) == 8


def test_authors_expert_accuracy_on_gpt4_items(data_dir: Path, human_trials, tmp_path: Path) -> None:
    # The authors' follow-up scored the experts on GPT-4-made items: 69.78% (their logistic notebook's table).
    dataset = load_dataset("brainbench-gpt4", data_dir=data_dir, offline=True)
    import_published(data_dir / "published_results" / MISTRAL / "llm_abstracts", dataset, MISTRAL, tmp_path / "gpt4")
    results = results_table({MISTRAL: load_run(tmp_path / "gpt4")[1]})
    teams = team_analysis(results, trials_of(human_trials, "gpt4"))["teams"]
    row = teams.loc[f"{HUMAN} + {MISTRAL}"]
    assert row["n_trials"] == 503 and round(100 * row["acc_a"], 2) == 69.78
