"""Test cases with 3 and 4 versions, made from the shared test cases: validated, run on the embedded model with
both engines, and through summary, compare and report, with chance shown; runs of 3 and of 4 versions are not
compared as one set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.data.files import inspect_file

runner = CliRunner()
EXTRA = ["was unchanged", "could not be measured"]  # the extra versions' wording of each edit


def n_option_file(tmp_path: Path, data_dir: Path, n_options: int, n_cases: int = 3) -> Path:
    """A CSV of the first cases of brainbench-human with every edit written [[original | altered | ...]]:
    the extra versions put a neutral phrase where the edit was."""
    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True, texts="reparsed")
    rows = []
    for case in human.cases[:n_cases]:
        combined = case.original
        for edit in sorted(case.edits, key=lambda edit: edit.original_start, reverse=True):
            options = [edit.original, edit.altered, *(f"{edit.original} {extra}" for extra in EXTRA)][:n_options]
            start = edit.original_start
            combined = combined[:start] + "[[" + " | ".join(options) + "]]" + combined[start + len(edit.original) :]
        rows.append({"doi": case.doi, "journal_section": case.subfield, "combined_abstract": combined})
    path = tmp_path / f"brainbench-{n_options}-options.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("n_options", [3, 4])
def test_n_option_files_validate(tmp_path: Path, data_dir: Path, n_options: int) -> None:
    dataset = inspect_file(n_option_file(tmp_path, data_dir, n_options))
    assert not dataset.problems and [case.n_options for case in dataset.cases] == [n_options] * 3
    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True, texts="reparsed")
    assert [case.options[:2] for case in dataset.cases] == [(case.original, case.altered) for case in human.cases[:3]]


@pytest.mark.slow
def test_n_option_runs_on_both_engines_and_through_every_command(
    tmp_path: Path, data_dir: Path, embedded_scorer
) -> None:
    """Both engines on 3 versions (tests/scoring/test_hf.py compares the engines on 3 and 4 within the scorer);
    the fast one on 4."""
    summaries = {}
    for n_options in (3, 4):
        path = n_option_file(tmp_path, data_dir, n_options)
        for engine in ("fast", "simple") if n_options == 3 else ("fast",):
            out = tmp_path / f"{n_options}-{engine}"
            result = runner.invoke(
                app,
                [
                    "run",
                    "--dataset",
                    str(path),
                    "--engine",
                    engine,
                    "--out",
                    str(out),
                    "--json",
                    "--data-dir",
                    str(data_dir),
                    "--offline",
                ],
            )
            assert result.exit_code == 0, result.stderr
            summaries[n_options, engine] = json.loads(result.stdout)
            assert summaries[n_options, engine]["chance"] == pytest.approx(1 / n_options)
        fast, simple = (
            [
                json.loads(line)
                for line in (tmp_path / f"{n_options}-{engine}" / "results.jsonl").read_text().splitlines()
            ]
            for engine in ("fast", "simple" if n_options == 3 else "fast")
        )
        for a, b in zip(fast, simple):
            assert len(a["options"]) == n_options and sorted(a["shown"]) == list(range(n_options))
            assert [o["ppl"] for o in a["options"]] == pytest.approx([o["ppl"] for o in b["options"]], rel=1e-4)
            assert a["choice"] in "ABCD"[:n_options] and a["correct"] == b["correct"]
        shown = runner.invoke(app, ["summary", str(tmp_path / f"{n_options}-fast")])
        assert shown.exit_code == 0 and f"chance {100 / n_options:.1f}%" in shown.stdout
        by_bytes = runner.invoke(
            app, ["summary", str(tmp_path / f"{n_options}-fast"), "--normalisation", "bytes", "--json"]
        )
        assert by_bytes.exit_code == 0 and json.loads(by_bytes.stdout)["normalisation"] == "bytes"
    mixed = runner.invoke(app, ["compare", *(str(tmp_path / f"{n}-fast") for n in (3, 4))])
    assert mixed.exit_code == 1 and "runs of 2 datasets" in mixed.stderr  # 3 and 4 versions: not one mean
    runs = [str(tmp_path / f"3-{engine}") for engine in ("fast", "simple")]
    compared = runner.invoke(app, ["compare", *runs, "--json"])
    assert compared.exit_code == 0, compared.stderr
    accuracy = json.loads(compared.stdout)["accuracy"]
    assert [round(row["chance"], 4) for row in accuracy.values()] == [0.3333, 0.3333]
    report = runner.invoke(app, ["report", *runs, "--out", str(tmp_path / "report.html")])
    assert report.exit_code == 0, report.stderr
    assert "chance" in (tmp_path / "report.html").read_text()
