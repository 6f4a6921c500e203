"""import-published, humans and compare through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from tests.analysis.paper_reference import PAPER_ORDER, folder, paper_table_s3, stand_in_set

runner = CliRunner()


def test_import_published_then_compare(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / "published_results"
    for model in ("mistralai--Mistral-7B-v0.1", "gpt2"):
        result = runner.invoke(
            app,
            [
                "import-published",
                str(source / model / "human_abstracts"),
                "--model",
                model,
                "--out",
                str(tmp_path / model),
                "--data-dir",
                str(data_dir),
            ],
        )
        assert result.exit_code == 0, result.stderr
    swapped = json.loads((tmp_path / "mistralai--Mistral-7B-v0.1" / "swapped-seed1234" / "summary.json").read_text())
    assert swapped["run"]["spec"]["condition"] == "swapped" and swapped["run"]["spec"]["seed"] == 1234
    iso = json.loads((tmp_path / "mistralai--Mistral-7B-v0.1" / "no-context" / "summary.json").read_text())
    assert (
        iso["n_items"] == 488 and iso["run"]["spec"]["condition"] == "no-context"
    )  # the paper's 488 human-made sentence pairs
    assert round(100 * iso["accuracy"], 1) == 68.2
    summary = json.loads((tmp_path / "gpt2" / "summary.json").read_text())
    assert summary["accuracy"] == 0.575 and summary["run"]["scorer"]["backend"] == "published"

    result = runner.invoke(
        app,
        [
            "compare",
            str(tmp_path / "mistralai--Mistral-7B-v0.1"),
            str(tmp_path / "gpt2"),
            "--data-dir",
            str(data_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    assert tables["accuracy"]["gpt2"]["accuracy"] == 0.575
    assert tables["mean_accuracy"] == (0.83 + 0.575) / 2
    assert tables["humans"]["all experts"]["n_correct"] == 641
    assert set(tables["subfields"]) == {
        "Behavioral/Cognitive",
        "Cellular/Molecular",
        "Development/Plasticity/Repair",
        "Neurobiology of Disease",
        "Systems/Circuits",
    }
    text = runner.invoke(app, ["compare", str(tmp_path / "gpt2"), "--data-dir", str(data_dir)])
    assert "57.5%" in text.stdout and "63.4%" in text.stdout


def test_import_needs_a_known_folder_or_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import-published", str(tmp_path), "--model", "m", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "pass --dataset" in result.stderr


def test_humans(data_dir: Path) -> None:
    result = runner.invoke(app, ["humans", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    assert tables["overall"]["top 20% expertise"]["n_correct"] == 86
    assert tables["by_subfield"]["Systems/Circuits"]["n"] == 258
    gpt4 = json.loads(runner.invoke(app, ["humans", "--source", "gpt4", "--data-dir", str(data_dir), "--json"]).stdout)
    assert gpt4["overall"]["all experts"]["n"] == 503


def test_compare_two_runs_is_paired_and_model_set_is_checked(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / "published_results"
    dirs = []
    for model in ("lora_r256_a512_finetune_mistral_7b_v01", "mistralai--Mistral-7B-v0.1"):
        runner.invoke(
            app,
            [
                "import-published",
                str(source / model / "human_abstracts"),
                "--model",
                model,
                "--out",
                str(tmp_path / model),
                "--data-dir",
                str(data_dir),
            ],
        )
        dirs.append(str(tmp_path / model))
    tables = json.loads(runner.invoke(app, ["compare", *dirs, "--data-dir", str(data_dir), "--json"]).stdout)
    assert abs(tables["paired"]["difference"] - 0.03) < 1e-12
    assert (tables["paired"]["only_a_correct"], tables["paired"]["only_b_correct"]) == (10, 4)
    result = runner.invoke(app, ["compare", *dirs, "--model-set", "paper", "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and "no run for 14 of the paper's 15 models" in result.stderr


def test_runs_of_the_same_model_stay_apart(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / "published_results"
    for model, out in (("gpt2", "a"), ("TinyLlama--TinyLlama_v1.1", "b")):
        runner.invoke(
            app,
            [
                "import-published",
                str(source / model / "human_abstracts"),
                "--model",
                "same-name",
                "--out",
                str(tmp_path / out),
                "--data-dir",
                str(data_dir),
            ],
        )
    tables = json.loads(
        runner.invoke(
            app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--data-dir", str(data_dir), "--json"]
        ).stdout
    )
    assert {name: row["accuracy"] for name, row in tables["accuracy"].items()} == {
        "same-name (a)": 0.575,
        "same-name (b)": 0.705,
    }


def test_compare_the_papers_set(data_dir: Path, paper_set_runs: dict[str, Path], tmp_path: Path) -> None:
    """The paper's 15 models (two released, 13 played by other released arrays) and BrainGPT: Table S3 for each of
    the 15 and the experts as the paper computed it, the paper's d_av and ddof-0 SDs, over the 15 alone."""
    run_dirs = [str(run_dir) for run_dir in paper_set_runs.values()]
    playing = stand_in_set(data_dir)
    result = runner.invoke(app, ["compare", *run_dirs, "--model-set", "paper", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    paper = [folder(name) for name in PAPER_ORDER]
    assert tables["model_set"] == paper and tables["other_runs"] == ["lora_r256_a512_finetune_mistral_7b_v01"]
    accuracies = np.array([tables["accuracy"][name]["accuracy"] for name in paper])
    assert tables["mean_accuracy"] == pytest.approx(accuracies.mean())

    reference = paper_table_s3(data_dir, playing, extra=("lora_r256_a512_finetune_mistral_7b_v01",))
    assert list(tables["table_s3"]) == [*paper, "human experts", "lora_r256_a512_finetune_mistral_7b_v01"]
    for name, expected in reference.items():
        for column in ("coef_mean", "t", "p_one_sided", "coef_sem", "intercept_mean"):
            assert tables["table_s3"][name][column] == pytest.approx(expected[column], rel=1e-9), (name, column)

    test = tables["models_vs_humans"]
    human = tables["humans"]["all experts"]["accuracy"]
    assert test["n_models"] == 15 and test["sd_model_accuracy"] == pytest.approx(np.std(accuracies))  # ddof 0
    assert test["cohens_d_av"] == pytest.approx((accuracies.mean() - human) / np.sqrt(np.var(accuracies, ddof=1) / 2))
    assert test["cohens_d_av"] == pytest.approx(np.sqrt(2) * test["cohens_d_one_sample"])
    matrix = tables["agreement_matrix"]
    lower = [matrix[a][b] for i, a in enumerate(paper) for b in paper[:i]]
    assert tables["agreement"]["model_model_sd"] == pytest.approx(np.std(lower))
    assert tables["agreement"]["model_human_sd"] == pytest.approx(
        np.std([matrix[name]["human experts"] for name in paper])
    )
    assert sorted(tables["chat_vs_base"]["pairs"]) == sorted(
        folder(name) for name in PAPER_ORDER if "chat" in name or "nstruct" in name
    )
    assert sorted(tables["accuracy_by_size"]["families"]) == [
        "facebook--galactica",
        "meta-llama--Llama-2-hf",
        "tiiuae--falcon",
    ]

    text = " ".join(
        runner.invoke(app, ["compare", *run_dirs, "--data-dir", str(data_dir)]).stdout.split()
    )  # the paper's set is the default
    assert (
        "Mean over the paper's 15 models" in text
        and "Not in the mean: lora_r256_a512_finetune_mistral_7b_v01 86.0%" in text
    )
    assert "d_av" in text and "Table S3" in text

    one = runner.invoke(
        app,
        [
            "compare",
            run_dirs[PAPER_ORDER.index("mistralai/Mistral-7B-v0.1")],
            "--model-set",
            "paper",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert (
        one.exit_code == 1 and "no run for 14 of the paper's 15 models" in one.stderr
    )  # mistralai/... is mistralai--...
    report = runner.invoke(
        app,
        [
            "report",
            *run_dirs[:2],
            "--model-set",
            "paper",
            "--out",
            str(tmp_path / "r.html"),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert report.exit_code == 1 and "no run for 13 of the paper's 15 models" in report.stderr
