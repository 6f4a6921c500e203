"""Human–AI teams: do an expert and a model decide better together than either alone?

The BrainBench authors' follow-up (Yáñez, Luo, Valerio Minero & Love 2024, "Confidence-weighted
integration of human and machine judgments for superior decision-making"; code: haico) combines,
trial by trial, an expert's choice and confidence with a model's choice and confidence. As there:

- Each member's judgement of a trial becomes one signed number, its *evidence for option B* in the
  run's A/B order (``label`` 1: B is the original): an expert's confidence rating (0-100), positive
  when they chose B; a model's ``log PPL_A - log PPL_B``, positive when B is less surprising.
- A logistic regression on the two members' evidence predicts which option is the original. It is
  fitted on other items only: grouped K-fold by item (K=5, items shuffled with a seed), so no trial
  of an item is ever predicted by a fit that saw that item.
- Team types: human–LLM (each trial with the model's judgement of the same item), LLM–LLM (two
  models, scored on the same trials, so each item weighs as many times as experts judged it, as the
  authors did), human–human (each trial with another expert's trial on the same item).

Trials on the same item are not independent (a model judges an item once for all of its trials),
so every 95% CI here comes from a bootstrap over items, not over trials.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainbench.errors import AnalysisError, InputError

HUMAN = "human expert"
PARTNER = "another expert"
HUMAN_LLM, LLM_LLM, HUMAN_HUMAN = "human-LLM", "LLM-LLM", "human-human"
N_FOLDS = 5
SEED = 0
N_BOOTSTRAP = 2000


@dataclass(frozen=True)
class TeamTrials:
    """The trials that teams decide, aligned row by row.

    ``trials``: doi, subfield, participant_id, label (1: option B is the original).
    ``evidence``: one column per member, its signed evidence for option B (NaN: no judgement).
    ``correct``: one column per member, whether the member alone chose the original.
    """

    trials: pd.DataFrame
    evidence: pd.DataFrame
    correct: pd.DataFrame


def toward_b(toward_original: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Evidence for the original turned into evidence for option B (label 1: B is the original)."""
    return np.where(np.asarray(label) == 1, toward_original, -np.asarray(toward_original))


def human_evidence(correct: Sequence[bool], confidence: Sequence[float], label: Sequence[int]) -> np.ndarray:
    """An expert's signed confidence for option B: the study records whether they chose the original
    (``correct``) and how sure they were (0-100); the authors' ``confidence * (2 * choice - 1)``."""
    toward_original = np.where(np.asarray(correct, dtype=bool), 1.0, -1.0) * np.asarray(confidence, dtype=float)
    return toward_b(toward_original, np.asarray(label))


def model_evidence(ppl_original: Sequence[float], ppl_altered: Sequence[float], label: Sequence[int]) -> np.ndarray:
    """A model's signed evidence for option B: ``log PPL_A - log PPL_B`` in the given A/B order."""
    toward_original = np.log(np.asarray(ppl_altered, dtype=float)) - np.log(np.asarray(ppl_original, dtype=float))
    return toward_b(toward_original, np.asarray(label))


def pair_experts(trials: pd.DataFrame, seed: int = SEED) -> np.ndarray:
    """For each trial, the row position of a partner trial: another expert's trial on the same item,
    drawn at random (seeded); -1 where no other expert judged the item. Every trial leads one pair."""
    rng = np.random.default_rng(seed)
    partner = np.full(len(trials), -1)
    participants = trials["participant_id"].to_numpy()
    for rows in trials.groupby("doi", sort=True).indices.values():
        for row in rows:
            others = rows[participants[rows] != participants[row]]
            if len(others):
                partner[row] = rng.choice(others)
    return partner


def team_trials(results: pd.DataFrame, trials: pd.DataFrame, seed: int = SEED) -> TeamTrials:
    """Every expert trial on an item that every run in ``results`` scored, with each member's evidence.

    ``results``: ``results_table`` rows (model, doi, source, label, ppl_original, ppl_altered, correct).
    ``trials``: the experts' trials (doi, source, subfield, participant_id, correct, confidence); only
    those on items of the runs' kind (GPT-4-made or not) are used. The A/B order is the first run's.
    """
    models = list(dict.fromkeys(results["model"]))
    without_ppl = [model for model in models if results.loc[results["model"] == model, "ppl_original"].isna().all()]
    if without_ppl:  # a model's evidence is its log PPL ratio; the paper has no team rule for answers
        raise AnalysisError(
            f"{', '.join(without_ppl)}: no perplexities (a --protocol choice run); teams combine PPL evidence"
        )
    scored = results.groupby("doi")["model"].nunique()
    items = set(scored[scored == len(models)].index)
    # The study's export files every item that GPT-4 did not make as human-made (its "human_" sections).
    sources = {"gpt4" if source == "gpt4" else "human" for source in results["source"]}
    chosen = trials[trials["doi"].isin(items) & trials["source"].isin(sources)].reset_index(drop=True)
    if chosen.empty:
        raise AnalysisError(
            "no expert trial on an item that every run scored (are the runs and the trials of the same dataset?)"
        )
    by_model = {
        model: group.drop_duplicates("doi").set_index("doi") for model, group in results.groupby("model", sort=False)
    }
    label = by_model[models[0]].loc[chosen["doi"], "label"].to_numpy(dtype=int)
    evidence = {HUMAN: human_evidence(chosen["correct"], chosen["confidence"], label)}
    correct = {HUMAN: chosen["correct"].to_numpy(dtype=bool)}
    partner = pair_experts(chosen, seed)
    has_partner = partner >= 0
    evidence[PARTNER] = np.where(has_partner, evidence[HUMAN][partner], np.nan)
    correct[PARTNER] = np.where(has_partner, correct[HUMAN][partner], False)
    for model in models:
        rows = by_model[model].loc[chosen["doi"]]
        evidence[model] = model_evidence(rows["ppl_original"], rows["ppl_altered"], label)
        correct[model] = rows["correct"].to_numpy(dtype=bool)
    return TeamTrials(
        trials=chosen[["doi", "subfield", "participant_id"]].assign(label=label),
        evidence=pd.DataFrame(evidence),
        correct=pd.DataFrame(correct),
    )


def item_folds(items: Sequence[str], n_folds: int = N_FOLDS, seed: int = SEED) -> dict[str, int]:
    """Items shuffled with ``seed`` and dealt round-robin into ``n_folds`` folds: item -> fold."""
    unique = np.array(sorted(set(items)))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {str(unique[index]): position % n_folds for position, index in enumerate(order)}


def combine(
    evidence: np.ndarray, label: np.ndarray, items: Sequence[str], n_folds: int = N_FOLDS, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validated logistic combination: (predicted label per trial, fold per trial, coefficients per fold).

    Each fold's trials are predicted by ``LogisticRegression`` (scikit-learn defaults) fitted on the
    other folds' trials. Features are standardised on the training trials, so that the default L2
    penalty treats a rating out of 100 and a log-PPL difference of a few hundredths alike (the
    authors fed both raw); the coefficients are per standard deviation of each member's evidence.
    """
    evidence = np.asarray(evidence, dtype=float)
    label = np.asarray(label, dtype=int)
    fold_of = item_folds(items, n_folds, seed)
    fold = np.array([fold_of[str(item)] for item in items])
    predicted = np.zeros(len(label), dtype=int)
    coefficients = np.full((n_folds, evidence.shape[1]), np.nan)
    for k in range(n_folds):
        test, train = fold == k, fold != k
        if not test.any():
            continue
        if len(np.unique(label[train])) < 2:
            raise AnalysisError(f"fold {k}: the training items all have the original on one side; use fewer folds")
        fitted = make_pipeline(StandardScaler(), LogisticRegression()).fit(evidence[train], label[train])
        predicted[test] = fitted.predict(evidence[test])
        coefficients[k] = fitted[-1].coef_[0]
    return predicted, fold, coefficients


def item_bootstrap(
    correct: dict[str, np.ndarray], items: Sequence[str], n_bootstrap: int = N_BOOTSTRAP, seed: int = SEED
) -> pd.DataFrame:
    """Accuracy of each series (trial-level correct, same trials) in ``n_bootstrap`` resamples of the
    items with replacement (each drawn item brings all its trials); one row per resample."""
    codes, _ = pd.factorize(pd.Series(list(items)))
    n_items = codes.max() + 1
    trials_per_item = np.bincount(codes, minlength=n_items)
    draws = np.random.default_rng(seed).integers(0, n_items, size=(n_bootstrap, n_items))
    counts = np.apply_along_axis(np.bincount, 1, draws, minlength=n_items)  # times each item is drawn
    n_trials = counts @ trials_per_item
    return pd.DataFrame(
        {
            name: counts @ np.bincount(codes, weights=np.asarray(values, dtype=float), minlength=n_items) / n_trials
            for name, values in correct.items()
        }
    )


def percentile_ci(values: pd.Series | np.ndarray) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles."""
    low, high = np.percentile(np.asarray(values, dtype=float), [2.5, 97.5])
    return float(low), float(high)


def confidence_auc(evidence: np.ndarray, correct: np.ndarray) -> float:
    """How well a member's confidence (|evidence|) tells its right choices from its wrong ones (ROC
    AUC: 0.5 says nothing, 1 perfect). A well-calibrated member is surer when right."""
    correct = np.asarray(correct, dtype=bool)
    if correct.all() or not correct.any():
        return np.nan
    return float(roc_auc_score(correct, np.abs(evidence)))


def team_accuracy(
    data: TeamTrials, member_a: str, member_b: str, n_folds: int = N_FOLDS, seed: int = SEED
) -> tuple[dict[str, float | int | str], pd.DataFrame]:
    """One team on the trials where both members judged: (its row of the team table, a per-trial frame
    of doi, subfield, fold and whether member a, member b and the team chose the original)."""
    usable = data.evidence[[member_a, member_b]].notna().all(axis=1).to_numpy()
    trials = data.trials[usable]
    evidence = data.evidence.loc[usable, [member_a, member_b]].to_numpy()
    label = trials["label"].to_numpy()
    predicted, fold, coefficients = combine(evidence, label, trials["doi"].tolist(), n_folds, seed)
    per_trial = pd.DataFrame(
        {
            "doi": trials["doi"].to_numpy(),
            "subfield": trials["subfield"].to_numpy(),
            "fold": fold,
            "a": data.correct.loc[usable, member_a].to_numpy(),
            "b": data.correct.loc[usable, member_b].to_numpy(),
            "team": predicted == label,
        }
    )
    row: dict[str, float | int | str] = {
        "member_a": member_a,
        "member_b": member_b,
        **accuracy_columns(per_trial, seed),
    }
    disagree = (per_trial["a"] != per_trial["b"]).to_numpy()  # two options: exactly one member chose the original
    row["n_disagree"] = int(disagree.sum())
    for column in ("a", "b", "team"):
        row[f"acc_{column}_disagree"] = float(per_trial.loc[disagree, column].mean()) if disagree.any() else np.nan
    weights = np.nanmean(coefficients, axis=0)
    row["weight_a"], row["weight_b"] = float(weights[0]), float(weights[1])
    row["confidence_auc_a"] = confidence_auc(evidence[:, 0], per_trial["a"].to_numpy())
    row["confidence_auc_b"] = confidence_auc(evidence[:, 1], per_trial["b"].to_numpy())
    return row, per_trial


def accuracy_columns(
    per_trial: pd.DataFrame, seed: int = SEED, n_bootstrap: int = N_BOOTSTRAP
) -> dict[str, float | int]:
    """n, accuracies of both members and the team, the team's gain over the better member, and
    item-bootstrap 95% CIs of the team's accuracy and of the gain (the better member fixed on all trials)."""
    accuracy = {column: float(per_trial[column].mean()) for column in ("a", "b", "team")}
    better = "a" if accuracy["a"] >= accuracy["b"] else "b"
    draws = item_bootstrap(
        {column: per_trial[column].to_numpy() for column in ("a", "b", "team")},
        per_trial["doi"].tolist(),
        n_bootstrap,
        seed,
    )
    team_low, team_high = percentile_ci(draws["team"])
    gain_low, gain_high = percentile_ci(draws["team"] - draws[better])
    return {
        "n_trials": len(per_trial),
        "n_items": int(per_trial["doi"].nunique()),
        "acc_a": accuracy["a"],
        "acc_b": accuracy["b"],
        "acc_team": accuracy["team"],
        "acc_team_ci95_low": team_low,
        "acc_team_ci95_high": team_high,
        "gain": accuracy["team"] - accuracy[better],
        "gain_ci95_low": gain_low,
        "gain_ci95_high": gain_high,
    }


def team_members(models: Sequence[str], llm_pairs: bool = True) -> list[tuple[str, str, str]]:
    """(team type, member a, member b) for every team of the analysis (LLM-LLM ones if ``llm_pairs``)."""
    teams = [(HUMAN_LLM, HUMAN, model) for model in models]
    if llm_pairs:
        teams += [(LLM_LLM, a, b) for a, b in itertools.combinations(models, 2)]
    teams.append((HUMAN_HUMAN, HUMAN, PARTNER))
    return teams


def shuffled_confidence(evidence: pd.Series, seed: int = SEED) -> pd.Series:
    """The member's choices kept, its confidences (|evidence|) dealt out at random among its trials:
    a member whose confidence says nothing about being right."""
    values = evidence.to_numpy(dtype=float)
    usable = ~np.isnan(values)
    magnitudes = np.abs(values[usable])
    shuffled = values.copy()
    shuffled[usable] = np.sign(values[usable]) * np.random.default_rng(seed).permutation(magnitudes)
    return pd.Series(shuffled, index=evidence.index, name=evidence.name)


def team_analysis(
    results: pd.DataFrame, trials: pd.DataFrame, n_folds: int = N_FOLDS, seed: int = SEED, llm_pairs: bool = True
) -> dict[str, pd.DataFrame]:
    """Every team (human-LLM per run, LLM-LLM per pair of runs unless not ``llm_pairs``, human-human)
    on the experts' trials.

    Returns ``teams`` (one row per team: members' and team accuracy, item-bootstrap CIs, gain over
    the better member, accuracies where the members disagree, weights, confidence AUCs),
    ``by_subfield`` (one row per team and subfield) and ``calibration`` (one row per team and member:
    the member's confidence AUC and weight, and the team's gain again with that member's confidence
    shuffled among its trials, choices kept).
    """
    data = team_trials(results, trials, seed)
    models = [name for name in data.evidence.columns if name not in (HUMAN, PARTNER)]
    rows, subfield_rows, calibration_rows = [], [], []
    for team_type, member_a, member_b in team_members(models, llm_pairs):
        name = f"{member_a} + {member_b}"
        row, per_trial = team_accuracy(data, member_a, member_b, n_folds, seed)
        rows.append({"team": name, "team_type": team_type, **row})
        for subfield, group in per_trial.groupby("subfield", sort=True):
            subfield_rows.append(
                {"team": name, "team_type": team_type, "subfield": subfield, **accuracy_columns(group, seed)}
            )
        for side, member in (("a", member_a), ("b", member_b)):
            blind = TeamTrials(
                data.trials,
                data.evidence.assign(**{member: shuffled_confidence(data.evidence[member], seed)}),
                data.correct,
            )
            shuffled_row, _ = team_accuracy(blind, member_a, member_b, n_folds, seed)
            calibration_rows.append(
                {
                    "team": name,
                    "member": member,
                    "confidence_auc": row[f"confidence_auc_{side}"],
                    "weight": row[f"weight_{side}"],
                    "gain": row["gain"],
                    "weight_shuffled": shuffled_row[f"weight_{side}"],
                    "gain_shuffled": shuffled_row["gain"],
                    "gain_shuffled_ci95_low": shuffled_row["gain_ci95_low"],
                    "gain_shuffled_ci95_high": shuffled_row["gain_ci95_high"],
                }
            )
    return {
        "teams": pd.DataFrame(rows).set_index("team"),
        "by_subfield": pd.DataFrame(subfield_rows).set_index(["team", "subfield"]),
        "calibration": pd.DataFrame(calibration_rows).set_index(["team", "member"]),
    }


def team_runs(
    run_dirs: Sequence[str | Path],
    *,
    humans: Path | None = None,
    abstract_ids: Path | None = None,
    data_dir: Path | None = None,
    n_folds: int = N_FOLDS,
    seed: int = SEED,
    allow_partial: bool = False,
) -> dict[str, pd.DataFrame]:
    """``brainbench team``: ``team_analysis`` of the run directories (of one dataset) with the paper's experts on
    that dataset, or with a study's own (``humans``: its participant_data.csv, ``abstract_ids``: its
    abstract_id_doi.csv)."""
    from brainbench.analysis.tables import results_table
    from brainbench.data import DATASETS
    from brainbench.data.participants import load_human_trials
    from brainbench.runs.collection import human_trials_for, name_runs, one_dataset, read_runs, records_by_name

    if n_folds < 2:
        raise InputError("--folds", None, f"{n_folds}: cross-validation needs at least 2 folds")
    if (humans is None) != (abstract_ids is None):
        raise InputError("--humans", None, "give both --humans and --abstract-ids (the study exports both)")
    runs = name_runs(read_runs(run_dirs, allow_partial=allow_partial))
    dataset = one_dataset(runs)
    if humans is not None and abstract_ids is not None:
        trials = load_human_trials(humans, abstract_ids)
        trials = trials[trials["source"] == DATASETS[dataset].source] if dataset in DATASETS else trials
    else:
        trials = human_trials_for([dataset], data_dir)
        if trials is None:
            raise InputError(
                run_dirs[0],
                None,
                f"no published expert trials for dataset {dataset!r}: pass --humans and --abstract-ids",
            )
    results = results_table(records_by_name(runs))
    n_items = results["item_id"].nunique() if len(results) else 0
    if n_folds > n_items:
        raise InputError("--folds", None, f"{n_folds}: more folds than the runs' {n_items} scored items")
    return team_analysis(results, trials, n_folds=n_folds, seed=seed)
