"""Decision rules: which version of a test case a model picks, from the raw log-likelihoods of its versions.

A rule turns each version's raw scores into one number, higher meaning more plausible:

``ppl``    mean log-probability per scored token, -ln PPL: the paper's rule (the lower perplexity wins)
``sum``    total log-likelihood of the text: the sequence's own probability, which favours short texts
``bytes``  log-likelihood per UTF-8 byte of the text (bits per byte, in nats): independent of the tokenizer
``self-certainty``  mean KL divergence of the model's next-token distribution from uniform over the text's
           scored positions (the authors' later ``run_choice_selfcertainty.py``): the version the model is surest
           about wins, whatever tokens it actually contains; computed in the same pass by the transformers backend

The model picks the version with the highest number; a tie for the highest is counted, and scored
wrong. ``p`` is the softmax of the numbers over the versions: a relative, uncalibrated probability
(under ``ppl``, the chosen version's share is max(PPL_A, PPL_B) / (PPL_A + PPL_B) for a pair).
Confidence is the paper's |PPL_A - PPL_B| for pairs under ``ppl`` (so every paper figure stays
as it was) and the chosen version's ``p`` otherwise (a difference of PPLs means nothing for N > 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from brainbench.errors import InputError, RunError

NORMALISATIONS = ("ppl", "sum", "bytes", "self-certainty")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class OptionScore:
    """What the store keeps of one scored version (``sum_logprob`` in nats; None where only a PPL is known,
    as in the paper's released arrays)."""

    ppl: float
    sum_logprob: float | None = None
    n_tokens: int | None = None
    n_bytes: int | None = None
    self_certainty: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    choice: str  # the chosen position's letter (A, B, ...) or "tie"
    correct: bool
    confidence: float
    p_chosen: float  # the chosen version's softmax share (the first tied one's on a tie)
    p: tuple[float, ...]  # per presented position


def option_value(score: OptionScore, normalisation: str = "ppl") -> float:
    """One version's number under a rule (higher = more plausible)."""
    if normalisation == "ppl":
        return -math.log(score.ppl)
    if normalisation == "self-certainty":
        if score.self_certainty is None:
            raise RunError(
                "the 'self-certainty' rule needs each text's self-certainty, which this run does not have: only the "
                "transformers backend computes it (a store written before brainbench kept it: score again with "
                "a new --store)"
            )
        return score.self_certainty
    if score.sum_logprob is None or (normalisation == "bytes" and not score.n_bytes):
        raise RunError(
            f"the {normalisation!r} rule needs each text's summed log-likelihood"
            f"{' and byte count' if normalisation == 'bytes' else ''}, which this run does not have "
            "(runs imported from published perplexities have only the 'ppl' rule)"
        )
    if normalisation == "sum":
        return score.sum_logprob
    if normalisation == "bytes":
        return score.sum_logprob / score.n_bytes
    raise InputError("--normalisation", None, f"unknown rule {normalisation!r}; choose {', '.join(NORMALISATIONS)}")


def softmax(values: Sequence[float]) -> tuple[float, ...]:
    top = max(values)
    weights = [math.exp(value - top) for value in values]
    total = sum(weights)
    return tuple(weight / total for weight in weights)


def decide(scores: Sequence[OptionScore], order: Sequence[int], normalisation: str = "ppl") -> Decision:
    """The model's pick among the versions shown in ``order`` (``order[k]``: which version is at position k;
    version 0 is the real one)."""
    shown = [scores[index] for index in order]
    values = [option_value(score, normalisation) for score in shown]
    best = max(values)
    winners = [position for position, value in enumerate(values) if value == best]
    p = softmax(values)
    chosen = winners[0]
    correct = len(winners) == 1 and order[chosen] == 0
    confidence = abs(shown[0].ppl - shown[1].ppl) if len(order) == 2 and normalisation == "ppl" else p[chosen]
    return Decision(LETTERS[chosen] if len(winners) == 1 else "tie", correct, confidence, p[chosen], p)


def check_normalisation(normalisation: str) -> str:
    if normalisation not in NORMALISATIONS:
        raise InputError("--normalisation", None, f"unknown rule {normalisation!r}; choose {', '.join(NORMALISATIONS)}")
    return normalisation
