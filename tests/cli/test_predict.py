"""`brainbench predict` on the two written examples with the embedded model: probabilities that sum to 1 and match
the texts' scores, and the track record from a real run of the same model in a temporary store, or the command
that makes one when there is none."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data.planned import load_study
from brainbench.scoring import resolve_template
from tests.commands import EMBEDDED_RUN_ITEMS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def calibration(embedded_run: Path) -> tuple[Path, Path]:
    """(store, run directory) of the embedded model on the first items of brainbench-human: the session's run."""
    return embedded_run.parent / "store.sqlite", embedded_run


@pytest.mark.slow
def test_two_text_outcomes_with_the_track_record_found_in_the_store(
    calibration: tuple[Path, Path], data_dir: Path, embedded_scorer
) -> None:
    store, out = calibration
    result = runner.invoke(
        app,
        ["predict", str(EXAMPLES / "planned-study.md"), "--store", str(store), "--data-dir", str(data_dir), "--json"],
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    probabilities = [outcome["probability"] for outcome in payload["outcomes"]]
    assert len(probabilities) == 2 and sum(probabilities) == pytest.approx(1)
    # the same texts scored on their own: p proportional to 1 / PPL (the ppl rule)
    template = resolve_template(None, None, None, data_dir=data_dir, offline=True)
    ppl = [
        scores.ppl
        for scores in embedded_scorer.score_texts(
            [template.apply(text) for text in load_study(EXAMPLES / "planned-study.md").texts()]
        )
    ]
    assert probabilities == pytest.approx([(1 / x) / sum(1 / y for y in ppl) for x in ppl], rel=1e-4)
    assert payload["top"] == probabilities.index(max(probabilities)) and payload["confidence"] == pytest.approx(
        max(probabilities)
    )
    record = payload["track_record"]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (
        record["n"] == EMBEDDED_RUN_ITEMS
        and record["n_correct"] == sum(r["correct"] for r in results)
        and record["n_bins"] == 1
    )
    assert (
        record["run_key"] == json.loads((out / "run.json").read_text())["run_key"] and "no_track_record" not in payload
    )


@pytest.mark.slow
def test_a_graded_outcome_with_the_track_record_given_as_a_run_directory(
    calibration: tuple[Path, Path], data_dir: Path
) -> None:
    _, out = calibration
    result = runner.invoke(
        app,
        [
            "predict",
            str(EXAMPLES / "planned-study-graded.yaml"),
            "--calibration",
            str(out),
            "--data-dir",
            str(data_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["track_record"]["source"] == str(out) and payload["track_record"]["n"] == EMBEDDED_RUN_ITEMS
    outcomes = payload["outcomes"]
    assert [o["outcome"] for o in outcomes] == ["10%", "25%", "50%", "75%", "90%"] and sum(
        o["probability"] for o in outcomes
    ) == pytest.approx(1)
    mean = sum(o["probability"] * o["numeric"] for o in outcomes)
    assert payload["distribution"]["mean"] == pytest.approx(mean)
    assert payload["distribution"]["sd"] == pytest.approx(
        math.sqrt(sum(o["probability"] * (o["numeric"] - mean) ** 2 for o in outcomes))
    )


@pytest.mark.slow
def test_without_a_run_it_says_so_and_gives_the_command(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "empty.sqlite"
    result = runner.invoke(
        app, ["predict", str(EXAMPLES / "planned-study.md"), "--store", str(store), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "No track record: no results store at" in text and "not calibrated odds" in text
    assert f"brainbench run --dataset brainbench-human --store {store}" in text
    assert not store.exists()  # looking for a run creates no store
    as_json = runner.invoke(
        app,
        ["predict", str(EXAMPLES / "planned-study.md"), "--store", str(store), "--data-dir", str(data_dir), "--json"],
    )
    payload = json.loads(as_json.stdout)
    assert (
        payload["track_record"] is None
        and payload["no_track_record"]["command"] == f"brainbench run --dataset brainbench-human --store {store}"
    )
    assert sum(outcome["probability"] for outcome in payload["outcomes"]) == pytest.approx(1)


def test_a_broken_study_fails_before_the_model_loads(tmp_path: Path) -> None:
    study = tmp_path / "study.md"
    study.write_text("## Background\nB.\n## Methods\nM.\n## Outcomes\n- only one\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(study), "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 1 and "study.md:5: 1 outcome(s): give at least two" in " ".join(result.stderr.split())
    assert "loading model" not in result.stderr


def test_the_track_record_line() -> None:
    from brainbench.analysis.track_record import track_record
    from brainbench.cli.predict import describe_track_record

    confidence = [0.50 + k / 100 for k in range(40)]
    correct = [k % 2 == 0 for k in range(20)] + [k % 5 != 0 for k in range(20)]
    line = describe_track_record(track_record(confidence, correct, 0.75), "store x, run abc", 0.75)
    assert line.startswith("Track record (store x, run abc, 40 items of brainbench-human): right 65.0% of the time")
    assert "its 20 items with confidence 0.700-0.890 (bin 2 of 2, mean 0.795): right 16/20 = 80.0%" in line
