"""The item explorer's analyses, by hand: word-level changes, token evidence, the item table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from brainbench.analysis.items import item_table, matching_blocks, token_evidence, word_changes


def test_word_changes_mark_whole_words_and_where_words_were_added() -> None:
    real, altered = "Rates rose in area 1.", "Rates fell sharply in area 1."
    assert word_changes(real, altered) == [(6, 10, 6, 18)]
    assert real[6:10] == "rose" and altered[6:18] == "fell sharply"
    # only added: an empty span in the real version where the words go
    assert word_changes("a b c", "a b x c") == [(4, 4, 4, 5)]
    assert word_changes("same text", "same text") == []


def test_matching_blocks_keep_prefix_and_suffix_whole() -> None:
    assert matching_blocks(list("abcxde"), list("abcyzde")) == [(0, 0, 3), (4, 5, 2)]
    assert matching_blocks(list("aaa"), list("aaa")) == [(0, 0, 3)]


def _words(text: str, start: int = 0) -> list[tuple[int, int]]:
    spans, at = [], 0
    for word in text.split(" "):
        spans.append((at, at + len(word)))
        at += len(word) + 1
    return [(s, e) for s, e in spans if s >= start]


def test_token_evidence_splits_the_difference_at_and_after_the_edit() -> None:
    # a one-word template before the abstract; every word a token, the first one unscored
    real, altered = "Q: Rates rose in area 1.", "Q: Rates fell sharply in area 1."
    offsets = (_words(real)[1:], _words(altered)[1:])  # Rates rose in area 1. / Rates fell sharply in area 1.
    logprobs = ((-1.0, -0.4, -0.2, -0.5, -0.3), (-1.0, -0.6, -0.9, -0.1, -0.5, -0.3))
    evidence = token_evidence((real, altered), (3, 3), (21, 29), offsets, logprobs)
    # shared before the edit: "Rates" (0); the edit: fell + sharply (1.5) - rose (0.4); after: in (0.1 - 0.2)
    assert evidence.before == 0
    assert evidence.at_edits == pytest.approx(1.1)
    assert evidence.after_edits == pytest.approx(-0.1)
    assert evidence.total == pytest.approx(sum(logprobs[0]) - sum(logprobs[1]))  # NLL altered - NLL real
    assert evidence.log_ppl_margin == pytest.approx(3.4 / 6 - 2.4 / 5)
    assert evidence.real.spans[:2] == ((0, 5), (6, 10)) and evidence.real.surprisal[:2] == (1.0, 0.4)
    assert evidence.blocks == ((0, 0, 1), (2, 3, 3))  # Rates; in area 1.


def test_item_table_by_hand() -> None:
    results = pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m2"],
            "item_id": [0, 1, 0, 1],
            "doi": ["d0", "d1", "d0", "d1"],
            "subfield": ["s", "t", "s", "t"],
            "correct": [True, False, False, False],
            "difficulty": [2.0, -1.0, -0.5, -3.0],
        }
    )
    trials = pd.DataFrame(
        {"doi": ["d0", "d0", "d1"], "correct": [1, 0, 1], "confidence": [50, 70, 90], "expertise": [10, 30, 60]}
    )
    bytes_rule = results.assign(correct=[True, True, False, False])  # m1 picks the other version of item 1
    table = item_table(results, trials, {"bytes": bytes_rule})
    assert table.loc[0, ["n_runs", "n_correct", "model_accuracy", "disagreement"]].tolist() == [2, 1, 0.5, 1.0]
    assert table.loc[1, ["n_correct", "model_accuracy", "disagreement"]].tolist() == [0, 0.0, 0.0]
    # each model's percentile of difficulty: item 1 is the harder one for both
    assert table["model_difficulty"].tolist() == [1.0, 0.5] and table["model_rank"].tolist() == [2, 1]
    assert table.loc[0, ["experts_n", "experts_accuracy", "experts_confidence", "experts_expertise"]].tolist() == [
        2,
        0.5,
        60.0,
        20.0,
    ]
    assert table["expert_rank"].tolist() == [1, 2]  # experts got item 0 right less often
    assert table["rule_flips"].tolist() == [0, 1]
    without = item_table(results)
    assert "experts_n" not in without and without["rule_flips"].tolist() == [0, 0]
    assert not math.isnan(without.loc[0, "model_difficulty"])


def test_evidence_summary_by_hand() -> None:
    from brainbench.analysis.items import TokenEvidence, TokenTrack, evidence_summary

    track = TokenTrack((), ())
    evidence = {  # (at the edits, after them): decided at the edit; overturned after it; after dominates, same sign
        i: TokenEvidence(track, track, (), 0.0, at, after, 0.0)
        for i, (at, after) in enumerate([(2.0, -1.0), (1.0, -3.0), (-0.5, -1.5)])
    }
    assert evidence_summary(evidence) == {
        "n": 3,
        "after_dominates": 2 / 3,
        "after_overturns": 1 / 3,
        "right_by_edits_alone": 2 / 3,
        "right_by_after_alone": 0.0,
    }
