"""Item-level views for the item explorer: what was altered (a word-level diff), where in the text a model found one
version more surprising than the other (token-level evidence), and which items models and experts find hard.

Pure functions: texts, per-token log-probabilities and tables in, plain values and tables out. The explorer
(``brainbench.report.explore``) draws them; ``brainbench explore`` reads the runs and their results store.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_WORDS = re.compile(r"\w+|[^\w\s]+")


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """(start in ``a``, start in ``b``, length) of the runs two sequences share, in order: their common prefix and
    suffix, and what difflib matches between (edits are local, so the middle is short and this stays fast)."""
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    middle = difflib.SequenceMatcher(None, a[prefix : len(a) - suffix], b[prefix : len(b) - suffix], autojunk=False)
    blocks = [(prefix + m.a, prefix + m.b, m.size) for m in middle.get_matching_blocks() if m.size]
    return [block for block in [(0, 0, prefix), *blocks, (len(a) - suffix, len(b) - suffix, suffix)] if block[2]]


def word_changes(original: str, altered: str) -> list[tuple[int, int, int, int]]:
    """The spans that differ between two versions, word by word: ``(start, end)`` in ``original`` then in
    ``altered`` (character offsets, end exclusive; an empty span where words were only added or removed)."""
    words = [[match.span() for match in _WORDS.finditer(text)] for text in (original, altered)]
    blocks = matching_blocks([original[s:e] for s, e in words[0]], [altered[s:e] for s, e in words[1]])
    changes, i, j = [], 0, 0
    for a, b, n in [*blocks, (len(words[0]), len(words[1]), 0)]:
        if a > i or b > j:
            changes.append((*_span(words[0], i, a, original), *_span(words[1], j, b, altered)))
        i, j = a + n, b + n
    return changes


def _span(words: Sequence[tuple[int, int]], first: int, stop: int, text: str) -> tuple[int, int]:
    """Characters of words ``first``..``stop - 1``; where there are none, the empty span where they would be."""
    if stop > first:
        return words[first][0], words[stop - 1][1]
    at = words[first][0] if first < len(words) else len(text)
    return at, at


@dataclass(frozen=True, slots=True)
class TokenTrack:
    """One version's scored tokens that fall in the abstract: ``spans`` (start, end) in the abstract's own
    characters, ``surprisal`` -log p in nats (the template's tokens before and after the abstract are left out)."""

    spans: tuple[tuple[int, int], ...]
    surprisal: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class TokenEvidence:
    """Where a model's preference between the real and the altered version comes from.

    ``blocks``: runs of tokens the two versions share, as (index in ``real``, index in ``altered``, length);
    tokens outside them are the altered words. The summed surprisal difference (altered - real, nats: > 0 favours
    the real version) is split into the shared tokens before the first difference (``before``, 0 with the fast
    engine), the differing tokens themselves (``at_edits``) and the shared tokens after the first difference
    (``after_edits``): whether the choice came from the altered words or from the text after them.
    ``log_ppl_margin`` is ln PPL(altered) - ln PPL(real), the paper's decision (> 0: the real version wins).
    Every prompt token counts (template included), so the three parts add up to ``total``."""

    real: TokenTrack
    altered: TokenTrack
    blocks: tuple[tuple[int, int, int], ...]
    before: float
    at_edits: float
    after_edits: float
    log_ppl_margin: float

    @property
    def total(self) -> float:
        return self.before + self.at_edits + self.after_edits


def token_evidence(
    prompts: tuple[str, str],
    abstract_starts: tuple[int, int],
    abstract_lengths: tuple[int, int],
    offsets: tuple[Sequence[tuple[int, int]], Sequence[tuple[int, int]]],
    logprobs: tuple[Sequence[float], Sequence[float]],
) -> TokenEvidence:
    """Align the scored tokens of a real and an altered prompt (``prompts``: the real one first) by their text and
    split the surprisal difference (see ``TokenEvidence``). ``offsets[k][t]`` is where scored token t lies in
    ``prompts[k]`` and ``logprobs[k][t]`` its log-probability; the abstract occupies ``abstract_lengths[k]``
    characters from ``abstract_starts[k]``."""
    pieces = [[prompt[s:e] for s, e in spans] for prompt, spans in zip(prompts, offsets)]
    surprisal = [np.negative(np.asarray(values, dtype=float)) for values in logprobs]
    pairs = [(a + k, b + k) for a, b, n in matching_blocks(pieces[0], pieces[1]) for k in range(n)]
    in_real = np.zeros(len(pieces[0]), dtype=bool)
    in_real[[i for i, _ in pairs]] = True
    in_altered = np.zeros(len(pieces[1]), dtype=bool)
    in_altered[[j for _, j in pairs]] = True
    first_real = int(np.argmin(in_real)) if not in_real.all() else len(in_real)
    first_altered = int(np.argmin(in_altered)) if not in_altered.all() else len(in_altered)
    before = after = 0.0
    for i, j in pairs:
        difference = surprisal[1][j] - surprisal[0][i]
        if i < first_real and j < first_altered:
            before += difference
        else:
            after += difference
    at_edits = float(surprisal[1][~in_altered].sum() - surprisal[0][~in_real].sum())
    tracks, shown = [], []
    for k in range(2):
        start, end = abstract_starts[k], abstract_starts[k] + abstract_lengths[k]
        keep = [t for t, (s, e) in enumerate(offsets[k]) if e > s and e > start and s < end]
        shown.append({t: index for index, t in enumerate(keep)})
        tracks.append(
            TokenTrack(
                tuple((max(s, start) - start, min(e, end) - start) for s, e in (offsets[k][t] for t in keep)),
                tuple(float(surprisal[k][t]) for t in keep),
            )
        )
    blocks: list[list[int]] = []
    for i, j in pairs:
        if i in shown[0] and j in shown[1]:
            a, b = shown[0][i], shown[1][j]
            if blocks and blocks[-1][0] + blocks[-1][2] == a and blocks[-1][1] + blocks[-1][2] == b:
                blocks[-1][2] += 1
            else:
                blocks.append([a, b, 1])
    margin = float(surprisal[1].mean() - surprisal[0].mean()) if len(surprisal[0]) and len(surprisal[1]) else math.nan
    return TokenEvidence(
        tracks[0],
        tracks[1],
        tuple((a, b, n) for a, b, n in blocks),
        float(before),
        at_edits,
        float(after),
        margin,
    )


def evidence_summary(evidence: Mapping[int, TokenEvidence]) -> dict[str, float]:
    """Over a run's items with token evidence: how often most of the surprisal difference lies after the altered
    words (``after_dominates``), how often the text after them overturns what the altered words alone favour
    (``after_overturns``), and the share of items each part alone would get right (``right_by_edits_alone``,
    ``right_by_after_alone``: that part favours the real version)."""
    parts = np.array([(e.at_edits, e.after_edits) for e in evidence.values()], dtype=float).reshape(-1, 2)
    at, after = parts[:, 0], parts[:, 1]
    return {
        "n": len(parts),
        "after_dominates": float(np.mean(np.abs(after) > np.abs(at))) if len(parts) else math.nan,
        "after_overturns": float(np.mean(np.sign(at) != np.sign(at + after))) if len(parts) else math.nan,
        "right_by_edits_alone": float(np.mean(at > 0)) if len(parts) else math.nan,
        "right_by_after_alone": float(np.mean(after > 0)) if len(parts) else math.nan,
    }


def item_table(
    results: pd.DataFrame,
    trials: pd.DataFrame | None = None,
    rule_results: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per item (``item_id``) over the runs in ``results`` (``results_table``): how many runs scored it
    and got it right, the share right (``model_accuracy``), how split they are (``disagreement``: 1 when half are
    right, 0 when all agree) and the mean of each run's percentile of the item's difficulty (PPL_incorrect -
    PPL_correct; ``model_difficulty``, low = hard). ``model_rank`` ranks it among the items (1 = hardest for models).

    With the experts' ``trials`` (``trials_of``), joined by DOI: ``experts_n``, ``experts_accuracy``,
    ``experts_confidence``, ``experts_expertise`` (means over the item's trials) and ``expert_rank`` (1 = the item
    the fewest experts got right; ties share the lowest rank). ``rule_results`` ({rule: results_table under that
    rule}, e.g. bytes, self-certainty): ``rule_flips``, how many runs pick another version under some rule than under
    the paper's ppl."""
    scored = results[results["correct"].notna()]
    percentile = scored.groupby("model")["difficulty"].rank(pct=True)
    by_item = scored.assign(difficulty_percentile=percentile).groupby("item_id")
    table = pd.DataFrame(
        {
            "doi": by_item["doi"].first(),
            "subfield": by_item["subfield"].first(),
            "n_runs": by_item["correct"].size(),
            "n_correct": by_item["correct"].sum().astype(int),
            "model_accuracy": by_item["correct"].mean().astype(float),
            "model_difficulty": by_item["difficulty_percentile"].mean(),
        }
    )
    table["disagreement"] = 1 - (2 * table["model_accuracy"] - 1).abs()
    table["model_rank"] = table["model_difficulty"].rank(method="min").astype("Int64")
    if trials is not None and len(trials):
        experts = trials.groupby("doi").agg(
            experts_n=("correct", "size"),
            experts_accuracy=("correct", "mean"),
            experts_confidence=("confidence", "mean"),
            experts_expertise=("expertise", "mean"),
        )
        table = table.join(experts, on="doi")
        table["experts_n"] = table["experts_n"].fillna(0).astype(int)
        table["expert_rank"] = table["experts_accuracy"].rank(method="min").astype("Int64")
    table["rule_flips"] = 0
    for rule_table in (rule_results or {}).values():
        flips = _chosen(rule_table).ne(_chosen(scored).reindex(_chosen(rule_table).index))
        table["rule_flips"] = table["rule_flips"].add(flips.groupby(level="item_id").sum(), fill_value=0).astype(int)
    return table.sort_index()


def _chosen(results: pd.DataFrame) -> pd.Series:
    """Which version each run picked, as right or wrong, indexed by (model, item_id)."""
    return results.set_index(["model", "item_id"])["correct"].astype(bool)
