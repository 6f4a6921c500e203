"""The brainbench command through typer's CliRunner: exit codes, stdout, stderr."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data.files import load_cases
from brainbench.runs import run_benchmark
from tests.fakes import FakeScorer
from tests.reference import reference_ppl

runner = CliRunner()

REQUIRED_ITEM_FIELDS = {
    "item_id",
    "doi",
    "subfield",
    "label",
    "nll_original",
    "nll_altered",
    "ntokens_original",
    "ntokens_altered",
    "ppl_original",
    "ppl_altered",
    "choice",
    "correct",
    "confidence",
}
REQUIRED_SUMMARY_FIELDS = {"model", "dataset", "n_items", "n_ties", "accuracy", "accuracy_ci95", "by_subfield"}


def test_validate_reports_file_line_reason(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text('doi,journal_section,combined_abstract\na,S,"[[up, down]]"\nb,S,"[[up, up]]"\n', encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert (
        result.stdout.strip() == "mine.csv:3: error: row 1: identical options in '[[up, up]]': the edit changes nothing"
    )
    assert "1 error(s), 0 warning(s)" in result.stderr


def test_validate_published_files(data_dir: Path) -> None:
    gpt4 = runner.invoke(app, ["validate", "brainbench-gpt4", "--data-dir", str(data_dir)])
    assert gpt4.exit_code == 0 and gpt4.stdout.count("options contain commas") == 4
    human = runner.invoke(app, ["validate", "brainbench-human", "--data-dir", str(data_dir)])
    assert human.exit_code == 1 and "BrainBench_Human_v0.1.csv:64: error: row 62: unbalanced brackets" in human.stdout


def test_summary_of_a_run(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        'doi,journal_section,combined_abstract\na,S,"We [[up, upwards]] x"\nb,T,"We [[longer, short]] y"\n',
        encoding="utf-8",
    )
    run_benchmark(load_cases(path), FakeScorer(), tmp_path / "run")
    result = runner.invoke(app, ["summary", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert set(summary) >= REQUIRED_SUMMARY_FIELDS and summary["accuracy"] == 0.5
    table = runner.invoke(app, ["summary", str(tmp_path / "run")])
    assert "accuracy 50.0%" in table.stdout and "Accuracy by subfield" in table.stdout


def test_errors_are_one_line_and_exit_1(tmp_path: Path, data_dir: Path) -> None:
    result = runner.invoke(app, ["run", "--dataset", "brainbench-humna", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("error: unknown dataset 'brainbench-humna'")
        and "Did you mean brainbench-human" in result.stderr
    )
    result = runner.invoke(app, ["run", "--items", "1,x", "--data-dir", str(data_dir), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "--items: 'x' is not an item id" in result.stderr
    result = runner.invoke(app, ["summary", str(tmp_path)])
    assert result.exit_code == 1 and "not a run directory" in result.stderr


@pytest.mark.slow
def test_run_end_to_end_on_the_embedded_model(tmp_path: Path, data_dir: Path, embedded_scorer) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["run", "--items", "0,62,199", "--data-dir", str(data_dir), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) >= REQUIRED_SUMMARY_FIELDS and summary["n_items"] == 3
    assert summary["run"]["scorer"]["dtype"] == "float32"
    assert (summary["run"]["spec"]["template"], summary["run"]["template_chosen_by"]) == (
        "gpt2",
        "generic",
    )  # the paper's generic template
    template = (data_dir / "prompt_templates" / "gpt2.txt").read_text(encoding="utf-8")
    assert summary["run"]["spec"]["template_sha256"] == hashlib.sha256(template.encode()).hexdigest()
    assert summary["run"]["spec"]["dataset_sha256"].startswith("a887d3e7242f")
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in records] == [0, 62, 199]
    assert all(set(r) >= REQUIRED_ITEM_FIELDS for r in records)
    # per-item PPL equals an independent full-sequence computation of the released texts
    import csv

    with open(data_dir / "BrainBench_Human_v0.1.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for record in records:
        for column, key in (("original_abstract", "ppl_original"), ("incorrect_abstract", "ppl_altered")):
            prompt = template.replace("<choice abstract>", rows[record["item_id"]][column]).strip()
            expected = reference_ppl(embedded_scorer.model, embedded_scorer.tokenizer, prompt)
            assert record[key] == pytest.approx(expected, rel=1e-4)
    # running again resumes: nothing left to score, same summary
    again = runner.invoke(app, ["run", "--items", "0,62,199", "--data-dir", str(data_dir), "--out", str(out), "--json"])
    assert json.loads(again.stdout)["accuracy"] == summary["accuracy"]


def test_runs_lists_the_store_and_export_rewrites_a_run(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        'doi,journal_section,combined_abstract\na,S,"We [[up, upwards]] x"\nb,T,"We [[longer, short]] y"\n',
        encoding="utf-8",
    )
    summary = run_benchmark(
        load_cases(path), FakeScorer(), tmp_path / "anywhere" / "run"
    )  # the user's store, whatever --out
    for where in ([], [str(tmp_path / "anywhere" / "run")]):  # the user's store; the store a run directory came from
        listed = runner.invoke(app, ["runs", *where, "--json"])
        assert listed.exit_code == 0, listed.stderr
        [run] = json.loads(listed.stdout)
        assert (run["model"], run["items"], run["scored"], run["errors"]) == ("fake-scorer", 2, 2, 0)
        assert run["run_key"] == summary["run"]["run_key"] and run["out"] == str(tmp_path / "anywhere" / "run")
    exported = runner.invoke(app, ["export", run["run"], "--out", str(tmp_path / "copy")])
    assert exported.exit_code == 0, exported.stderr
    assert (tmp_path / "copy" / "results.jsonl").read_text() == (
        tmp_path / "anywhere" / "run" / "results.jsonl"
    ).read_text()
    (tmp_path / "anywhere" / "run" / "results.jsonl").unlink()
    again = runner.invoke(
        app, ["export", str(tmp_path / "anywhere" / "run")]
    )  # a run directory rewritten from its store
    assert again.exit_code == 0 and (tmp_path / "anywhere" / "run" / "results.jsonl").is_file()
    missing = runner.invoke(app, ["export", "ffffffff"])
    assert missing.exit_code != 0 and "no run starts with 'ffffffff'" in missing.stderr
    nowhere = tmp_path / "no" / "store.sqlite"
    listing = runner.invoke(app, ["runs", "--store", str(nowhere)])
    assert listing.exit_code == 1 and f"no results store at {nowhere}" in listing.stderr
    assert not nowhere.exists() and not nowhere.parent.exists()  # listing never creates a store
