"""brainbench team through the CLI: the published runs with the paper's experts, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app

runner = CliRunner()
MODELS = ("mistralai--Mistral-7B-v0.1", "meta-llama--Llama-2-7b-hf")


@pytest.fixture(scope="module")
def run_dirs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("team")
    dirs = {}
    for model in MODELS:
        for folder in ("human_abstracts", "llm_abstracts"):
            target = out / folder / model
            result = runner.invoke(
                app,
                [
                    "import-published",
                    str(data_dir / "published_results" / model / folder),
                    "--model",
                    model,
                    "--out",
                    str(target),
                    "--data-dir",
                    str(data_dir),
                ],
            )
            assert result.exit_code == 0, result.stderr
            dirs[f"{folder}/{model}"] = target
    return dirs


def test_team_json(run_dirs: dict[str, Path], data_dir: Path) -> None:
    result = runner.invoke(
        app, ["team", *(str(run_dirs[f"human_abstracts/{m}"]) for m in MODELS), "--data-dir", str(data_dir), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    assert tables["settings"]["folds"] == 5 and tables["settings"]["cv"] == "grouped K-fold by item"
    teams = {row["team"]: row for row in tables["teams"]}
    assert [row["team_type"] for row in tables["teams"]] == ["human-LLM", "human-LLM", "LLM-LLM", "human-human"]
    human_mistral = teams["human expert + mistralai--Mistral-7B-v0.1"]
    assert (human_mistral["n_trials"], round(human_mistral["acc_a"] * 1011), round(human_mistral["acc_b"], 3)) == (
        1011,
        641,
        0.839,
    )
    assert len(tables["by_subfield"]) == 4 * 5 and len(tables["calibration"]) == 4 * 2


def test_team_table_text(run_dirs: dict[str, Path], data_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["team", str(run_dirs["llm_abstracts/mistralai--Mistral-7B-v0.1"]), "--data-dir", str(data_dir)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "human expert + Mistral-7B-v0.1" in result.stdout and "69.8%" in result.stdout
    )  # the experts on GPT-4-made items


def test_team_errors(run_dirs: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    mixed = runner.invoke(
        app,
        [
            "team",
            str(run_dirs["human_abstracts/mistralai--Mistral-7B-v0.1"]),
            str(run_dirs["llm_abstracts/mistralai--Mistral-7B-v0.1"]),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert mixed.exit_code == 1 and "runs of 2 datasets" in mixed.stderr
    one_file = runner.invoke(
        app, ["team", str(run_dirs["human_abstracts/mistralai--Mistral-7B-v0.1"]), "--humans", str(tmp_path / "p.csv")]
    )
    assert one_file.exit_code == 1 and "give both --humans and --abstract-ids" in one_file.stderr
    folds = runner.invoke(app, ["team", str(run_dirs["human_abstracts/mistralai--Mistral-7B-v0.1"]), "--folds", "1"])
    assert folds.exit_code == 1 and "--folds: 1: cross-validation needs at least 2 folds" in folds.stderr


def test_team_with_a_study_export(run_dirs: dict[str, Path], data_dir: Path) -> None:
    # --humans/--abstract-ids read a study's export; the paper's own files are one.
    result = runner.invoke(
        app,
        [
            "team",
            str(run_dirs["human_abstracts/mistralai--Mistral-7B-v0.1"]),
            "--humans",
            str(data_dir / "participant_data.csv"),
            "--abstract-ids",
            str(data_dir / "abstract_id_doi.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["teams"][0]["n_trials"] == 1011
