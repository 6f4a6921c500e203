"""The self-certainty rule: computed in the scoring pass, stored raw, chosen afterwards (--score self-certainty)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data.files import load_cases
from brainbench.runs import run_benchmark
from brainbench.runs.store import ResultsStore
from brainbench.scoring.base import TokenScores
from brainbench.scoring.rules import OptionScore, decide
from tests.fakes import FakeScorer

runner = CliRunner()


def test_the_surer_version_wins() -> None:
    options = [OptionScore(10.0, self_certainty=2.5), OptionScore(5.0, self_certainty=3.0)]
    assert decide(options, (0, 1), "ppl").choice == "B"  # lower perplexity
    by_certainty = decide(options, (0, 1), "self-certainty")
    assert by_certainty.choice == "B" and not by_certainty.correct
    assert decide(options[::-1], (0, 1), "self-certainty").correct


def test_certainties_are_stored_and_older_stores_read_without_them(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = ResultsStore(path)
    key = store.register_scorer({"backend": "fake"}, {})
    store.add_scores(
        key, [("one", TokenScores((-1.0, -2.0), 3, (0.5, 1.5)), None), ("two", TokenScores((-1.0,), 2), None)]
    )
    stored = {
        score.scores.n_text_tokens: score.scores for score in store.get_scores(key, _hashes("one", "two")).values()
    }
    assert stored[3].token_certainties == (0.5, 1.5) and stored[3].self_certainty == 1.0
    assert stored[2].token_certainties is None and stored[2].self_certainty is None
    with store.engine.begin() as connection:  # a store from before self-certainty
        connection.execute(sa.text("ALTER TABLE scores DROP COLUMN token_certainties"))
    old = ResultsStore(path, create=False)  # read as it is, nothing written
    assert all(s.scores.token_certainties is None for s in old.get_scores(key, _hashes("one", "two")).values())
    ResultsStore(path)  # opened for writing: the column is added
    assert "token_certainties" in {column["name"] for column in sa.inspect(old.engine).get_columns("scores")}


def _hashes(*texts: str) -> list[str]:
    from brainbench.runs.store import text_key

    return [text_key(text) for text in texts]


def test_summary_by_self_certainty_from_the_stored_scores(tmp_path: Path) -> None:
    # the fake's self-certainty counts every word but the last, its log-likelihood every word but the first:
    # with the edit last, the two rules disagree
    rows = "".join(f'doi{i},Systems/Circuits,"Case {i}: rates [[rose, up extraordinarily]]"\n' for i in range(6))
    (tmp_path / "cases.csv").write_text("doi,journal_section,combined_abstract\n" + rows, encoding="utf-8")
    run_benchmark(load_cases(tmp_path / "cases.csv"), FakeScorer(), tmp_path / "run", store=tmp_path / "s.sqlite")
    records = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert all("self_certainty" in option for record in records for option in record["options"])
    expected = sum(r["options"][0]["self_certainty"] > r["options"][1]["self_certainty"] for r in records) / len(
        records
    )
    by_ppl = sum(r["options"][0]["ppl"] < r["options"][1]["ppl"] for r in records) / len(records)
    assert expected != by_ppl  # the fake's two rules disagree, so the test can tell them apart
    result = runner.invoke(app, ["summary", str(tmp_path / "run"), "--score", "self-certainty", "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["normalisation"] == "self-certainty" and summary["accuracy"] == expected


def test_a_run_without_certainties_says_so(tmp_path: Path, data_dir: Path) -> None:
    arrays = data_dir / "published_results" / "gpt2" / "human_abstracts"
    run = runner.invoke(
        app, ["import-published", str(arrays), "--model", "gpt2", "--data-dir", str(data_dir), "--out", str(tmp_path)]
    )
    assert run.exit_code == 0, run.stderr
    result = runner.invoke(app, ["summary", str(tmp_path), "--score", "self-certainty"])
    assert result.exit_code != 0 and "only the transformers backend computes it" in result.stderr
    assert "Traceback" not in result.stderr
