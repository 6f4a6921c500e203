"""Memorisation scores, verdicts, the publication-date correlation and the context table, by hand;
and the memorisation pass on the embedded model (slow)."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainbench.analysis import context_table, flag_memorised, memorisation_summary, publication_date_correlation
from brainbench.analysis.memorisation import memorisation_scores, min_k_plus_plus, min_k_prob, text_scores
from brainbench.data import load_dataset, load_gettysburg
from brainbench.errors import InputError
from brainbench.runs.memorisation import (
    memorisation_texts,
    read_memorisation,
    read_reference_corpus,
    score_memorisation,
    zlib_entropy,
)
from brainbench.scoring.templates import BARE


def test_scores_by_hand() -> None:
    assert zlib_entropy("aaaa") == len(zlib.compress(b"aaaa"))
    logprobs = [-1.0, -5.0, -0.5, -3.0, -2.0]
    assert min_k_prob(logprobs, 0.2) == -5.0  # the lowest 20% of 5 tokens: one
    assert min_k_prob(logprobs, 0.5) == pytest.approx((-5.0 - 3.0 - 2.0) / 3)  # ceil(2.5) = 3 tokens
    # (log p - mean) / std: -1, -1, 2, -3, 0 -> lowest 40% = (-3 + -1) / 2
    assert min_k_plus_plus(logprobs, [0.0, -4.0, -2.5, 0.0, -2.0], [1.0, 1.0, 1.0, 1.0, 1.0], 0.4) == pytest.approx(
        -2.0
    )
    scores = text_scores(logprobs, zlib_entropy("some text"))
    assert scores["ppl"] == pytest.approx(math.exp(2.3)) and math.isnan(scores["min_k_pp"])
    assert scores["zlib_ratio"] == pytest.approx(2.3 / zlib_entropy("some text"))


def _table() -> pd.DataFrame:
    rows = [("m", "altered", "item", i, float(10 + i), 100.0, -10.0 + i / 10, -3.0 + i / 100, 0.01) for i in range(20)]
    rows += [
        ("m", "original", "item", 0, 5.0, 100.0, -1.0, 0.0, 0.005),
        ("m", "original", "item", 1, 12.0, 100.0, -9.5, -2.95, 0.02),
    ]
    rows += [("m", "control", "gettysburg", None, 1.2, 700.0, -0.5, 1.0, 0.0002)]
    return pd.DataFrame(
        rows, columns=["model", "kind", "label", "item_id", "ppl", "zlib", "min_k", "min_k_pp", "zlib_ratio"]
    )


def test_an_item_beyond_the_unseen_control_is_flagged() -> None:
    flagged = flag_memorised(_table())
    originals = flagged[flagged["kind"] == "original"].set_index("item_id")
    # the controls' 95th percentile of min_k is -8.195: item 0 (-1.0) is beyond, item 1 (-9.5) is not
    assert originals.loc[0, "beyond_min_k"] and not originals.loc[1, "beyond_min_k"]
    assert originals.loc[0, "beyond_zlib_ratio"] and not originals.loc[1, "beyond_zlib_ratio"]  # lower is beyond
    summary = memorisation_summary(flagged).loc["m"]
    assert summary["min_k_n_flagged"] == 1 and summary["n_items"] == 2 and summary["ppl_gettysburg"] == 1.2
    assert summary["min_k_control_flagged"] and summary["min_k_pp_control_flagged"]
    assert summary["min_k_p"] == pytest.approx(1 - 0.95**2)  # P(at least 1 of 2 beyond a 5% cut by chance)


def test_a_reference_corpus_can_be_the_unseen_control() -> None:
    table = pd.concat(
        [
            _table(),
            pd.DataFrame(
                [
                    {
                        "model": "m",
                        "kind": "reference",
                        "label": "after-cutoff",
                        "ppl": 3.0,
                        "zlib": 90.0,
                        "min_k": 0.0,
                        "min_k_pp": 2.0,
                        "zlib_ratio": 0.001,
                    }
                ]
            ),
        ]
    )
    flagged = flag_memorised(table, unseen="after-cutoff")
    assert not flagged[flagged["kind"] == "original"]["beyond_min_k"].any()


def test_publication_date_correlation_ranks_dates_as_the_paper() -> None:
    results = pd.DataFrame(
        {
            "model": "m",
            "item_id": range(10),
            "ppl_original": 1.0,
            "ppl_altered": [2.0 - i / 10 for i in range(10)],
            "correct": [True] * 5 + [True, False, True, False, False],
        }
    )
    dates = pd.Series(pd.date_range("2023-01-01", periods=10, freq="MS"))
    row = publication_date_correlation(results, dates).loc["m"]
    assert row["spearman_rho"] == pytest.approx(-1.0)  # later items were harder, monotonically
    assert row["accuracy_earlier_half"] == 1.0 and row["accuracy_later_half"] == 0.4
    few = publication_date_correlation(results.head(3), dates).loc["m"]
    assert math.isnan(few["spearman_rho"]) and math.isnan(few["p"])  # 3 items: n/a, not rho -1, p 0


def test_context_table_by_hand() -> None:
    rows = [
        ("m", "full", "a", True),
        ("m", "full", "b", False),
        ("m", "no-context", "a", True),
        ("m", "no-context", "a", True),
        ("m", "no-context", "a", False),
        ("m", "no-context", "b", False),
        ("m", "swapped (seed 42)", "a", False),
        ("m", "swapped (seed 42)", "b", False),
    ]
    table = context_table(pd.DataFrame(rows, columns=["model", "condition", "doi", "correct"]))
    assert list(table.columns) == ["full", "no-context", "no-context (per abstract)", "swapped (seed 42)"]
    assert table.loc["m"].tolist() == [0.5, 0.5, pytest.approx((2 / 3 + 0) / 2), 0.0]


def test_reference_corpora_are_read_with_clear_errors(tmp_path: Path) -> None:
    corpus = tmp_path / "abstracts.jsonl"
    corpus.write_text(json.dumps({"text": "one", "label": "before"}) + "\n" + json.dumps({"text": "two"}) + "\n")
    assert read_reference_corpus(corpus) == {"before": ["one"], "abstracts": ["two"]}
    (tmp_path / "c.csv").write_text("text,label\nthree,after\n")
    assert read_reference_corpus(tmp_path / "c.csv") == {"after": ["three"]}
    corpus.write_text(json.dumps({"text": "one"}) + "\n{oops\n")
    with pytest.raises(InputError, match="abstracts.jsonl:2: not valid JSON"):
        read_reference_corpus(corpus)
    (tmp_path / "d.csv").write_text("body\nx\n")
    with pytest.raises(InputError, match="d.csv:1: no 'text' column"):
        read_reference_corpus(tmp_path / "d.csv")


@pytest.mark.slow
def test_memorisation_pass_on_the_embedded_model_resumes_and_the_control_works(
    embedded_scorer, data_dir: Path, tmp_path: Path
) -> None:
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:2]
    texts = memorisation_texts(
        cases, BARE, load_gettysburg(data_dir=data_dir), {"mine": ["A short reference text about mice."]}
    )
    out = tmp_path / "memorisation.jsonl"
    first = score_memorisation(embedded_scorer, texts[:5], out)
    raw = score_memorisation(embedded_scorer, texts, out)  # the first five come from the file
    assert len(out.read_text().splitlines()) == len(texts) == 2 * 2 + 2
    assert raw.iloc[:5]["token_logprobs"].tolist() == first["token_logprobs"].tolist()
    assert read_memorisation(tmp_path).equals(raw)
    table = memorisation_scores(raw)  # the scores are derived from the raw log-probabilities, for any k
    assert memorisation_scores(raw, k=0.5)["min_k"].tolist() != table["min_k"].tolist()
    # the texts' PPL is the runs' PPL (same model, same texts)
    assert table.iloc[0]["ppl"] == pytest.approx(embedded_scorer.score_texts([cases[0].original])[0].ppl, rel=1e-5)
    originals = table[table["kind"] == "original"]
    gettysburg = table[table["kind"] == "control"].iloc[0]
    # the control works: memorised text, far below the items' perplexity (13.1 vs a median of 28.2 over all 200)
    assert gettysburg["ppl"] < 0.6 * originals["ppl"].median()
    assert gettysburg["zlib"] == 714  # the paper's zlib entropy of the Gettysburg Address
    assert np.isfinite(table["min_k_pp"]).all()
