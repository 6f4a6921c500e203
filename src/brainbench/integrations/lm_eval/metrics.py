"""The task's ``process_results``: lm-eval's summed log-likelihoods -> the paper's decision and two other rules.

lm-eval returns, per version in the order shown, the summed log-likelihood of its continuation (every
token after the first). With the document's token and byte counts that is all brainbench's rules need
(``brainbench.scoring.rules``):

``acc``        the paper's rule: the lower PPL = exp(-sum / n_tokens) wins; an exact tie counts as wrong
``acc_sum``    the higher summed log-likelihood wins (lm-eval's own ``acc``)
``acc_bytes``  the higher log-likelihood per UTF-8 byte of the prompt wins
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brainbench.scoring.base import perplexity
from brainbench.scoring.rules import OptionScore, decide

METRICS = {"acc": "ppl", "acc_sum": "sum", "acc_bytes": "bytes"}  # metric -> brainbench's rule


def option_scores(document: Mapping[str, Any], logliks: Sequence[float]) -> list[OptionScore]:
    """Each version's scores, the real one first, from the log-likelihoods of the positions shown."""
    shown = document["shown"]
    if len(logliks) != len(shown):
        raise ValueError(f"item {document['item_id']}: {len(logliks)} log-likelihoods for {len(shown)} versions")
    by_version: list[OptionScore | None] = [None] * len(shown)
    for position, version in enumerate(shown):
        n_tokens = document["n_tokens"][position]
        loglik = float(logliks[position])
        by_version[version] = OptionScore(
            perplexity(-loglik, n_tokens), loglik, n_tokens, document["n_bytes"][position]
        )
    return [score for score in by_version if score is not None]


def process_results(document: Mapping[str, Any], results: Sequence[Sequence[Any]]) -> dict[str, float]:
    """1.0 where a rule picks the real version, else 0.0, for each metric. ``results`` holds lm-eval's
    (log-likelihood, is_greedy) per version shown."""
    options = option_scores(document, [loglik for loglik, *_ in results])
    return {metric: float(decide(options, document["shown"], rule).correct) for metric, rule in METRICS.items()}
