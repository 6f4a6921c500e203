"""Predicting a planned study's outcome: the model's probability for each candidate result, and the run of the same
model on brainbench-human that says how far to trust it.

Each outcome ends one text (background, methods, that outcome; the model's prompt template applied); the texts
are scored as the versions of one test case, and the probabilities are the softmax of their numbers under the
decision rule, as for a test case's versions (``brainbench.scoring.rules``). They are relative: how the model
ranks these outcomes against each other, not calibrated odds. ``confidence`` is the top outcome's two-way share
against the runner-up, the same quantity as a BrainBench choice's ``p_chosen``, so that a run on BrainBench can
say how often the model was right when it was that sure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brainbench.data.planned import PlannedStudy
from brainbench.runs.graded import describe_distribution
from brainbench.runs.info import RunInfo
from brainbench.runs.records import stored_records
from brainbench.runs.store import ResultsStore
from brainbench.scoring import Scorer, Template
from brainbench.scoring.rules import OptionScore, option_value, softmax

CALIBRATION_DATASET = "brainbench-human"
# The model fields of a run's spec that must match for its run to speak for the model (dtype may differ).
IDENTITY_FIELDS = ("backend", "model", "gguf_file", "revision", "weights", "adapter", "adapter_weights")


@dataclass(frozen=True)
class Prediction:
    probabilities: tuple[float, ...]  # per outcome, in the study's order; they sum to 1
    top: int  # the most probable outcome
    confidence: float  # the top outcome's share of (top + runner-up)
    normalisation: str
    distribution: dict[str, Any] | None  # a graded study: mean, SD and the 50% / 80% intervals over its values


def predict_outcomes(study: PlannedStudy, scorer: Scorer, template: Template, normalisation: str = "ppl") -> Prediction:
    """Score the study's outcomes in one call (their shared prefix once, with the fast engine) and weigh them."""
    texts = [template.apply(text) for text in study.texts()]
    scores = scorer.score_options([texts])[0]
    options = [
        OptionScore(s.ppl, s.sum_logprob, s.n_tokens, len(text.encode("utf-8")), s.self_certainty)
        for s, text in zip(scores, texts)
    ]
    p = softmax([option_value(option, normalisation) for option in options])
    top, runner_up = sorted(range(len(p)), key=lambda k: -p[k])[:2]
    distribution = describe_distribution(p, study.numeric) if study.numeric is not None else None
    return Prediction(tuple(p), top, p[top] / (p[top] + p[runner_up]), normalisation, distribution)


def find_calibration_run(store: ResultsStore, identity: Mapping[str, Any]) -> str | None:
    """The key of the run of this model (``identity``, from ``model_identity``) on brainbench-human, full abstracts,
    perplexity protocol, with the most items scored (the latest of equals); None if the store has none."""
    found = []
    for run in store.list_runs():
        if (run["dataset"], run["condition"], run["protocol"]) != (
            CALIBRATION_DATASET,
            "full",
            "perplexity",
        ) or not run["scored"]:
            continue
        spec = store.run_info(run["run_key"]).spec
        if all(getattr(spec, name) == identity.get(name) for name in IDENTITY_FIELDS):
            found.append(run)
    return max(found, key=lambda run: (run["scored"], run["created_at"]))["run_key"] if found else None


def stored_run(store: ResultsStore, run_key: str, normalisation: str = "ppl") -> tuple[RunInfo, list[dict[str, Any]]]:
    """(run.json, records under ``normalisation``) of a run in the results store."""
    return store.run_info(run_key), stored_records(store, run_key, normalisation=normalisation)
