"""Graded forecasts worked out by hand, their summary against the uniform grid, the grid through the store, and the
graded set run on the embedded model through run and summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.runs.graded import forecast, grid_probabilities, uniform_forecast
from brainbench.runs.info import RunInfo
from brainbench.runs.spec import RunSpec
from brainbench.runs.store import ResultsStore, RunCase
from brainbench.runs.summary import graded_summary
from brainbench.scoring.rules import OptionScore

GRID = {"values": ["10%", "20%", "35%", "50%", "70%"], "numeric": [10, 20, 35, 50, 70], "answer": 2, "unit": "%"}
SMALL = {"values": ["one", "two", "four"], "numeric": [1, 2, 4], "answer": 0, "unit": ""}


def test_a_forecast_by_hand() -> None:
    result = forecast([0.1, 0.2, 0.4, 0.2, 0.1], GRID["numeric"], 2)
    assert result["mean"] == pytest.approx(1 + 4 + 14 + 10 + 7)  # 36
    assert result["sd"] == pytest.approx(math.sqrt(0.1 * 26**2 + 0.2 * 16**2 + 0.4 * 1**2 + 0.2 * 14**2 + 0.1 * 34**2))
    assert result["abs_error"] == pytest.approx(1) and result["relative_error"] == pytest.approx(1 / 60)
    assert result["rank"] == 1
    # cumulative 0.1, 0.3, 0.7, 0.9, 1: the 0.25 and 0.75 quantiles are 20 and 50; the 0.1 and 0.9 ones 10 and 50
    assert result["interval_50"] == [20, 50] and result["mass_50"] == pytest.approx(0.8) and result["in_50"]
    assert result["interval_80"] == [10, 50] and result["mass_80"] == pytest.approx(0.9) and result["in_80"]
    # RPS: (F - O)^2 over the first 4 values, F = 0.1, 0.3, 0.7, 0.9 and O = 0, 0, 1, 1, divided by 4
    assert result["rps"] == pytest.approx((0.01 + 0.09 + 0.09 + 0.01) / 4)


def test_the_uniform_grid_and_a_truth_outside_the_interval() -> None:
    uniform = uniform_forecast(GRID)
    assert uniform["mean"] == pytest.approx(37) and uniform["rank"] == 3  # five tied values share ranks 1-5
    assert uniform["rps"] == pytest.approx((0.2**2 + 0.4**2 + 0.4**2 + 0.2**2) / 4)
    assert uniform_forecast({**GRID, "answer": 0})["rps"] == pytest.approx((0.8**2 + 0.6**2 + 0.4**2 + 0.2**2) / 4)
    sure_and_wrong = forecast([0.1, 0.3, 0.6], SMALL["numeric"], 0)
    assert sure_and_wrong["interval_50"] == [2, 4] and not sure_and_wrong["in_50"] and sure_and_wrong["in_80"]
    assert sure_and_wrong["rank"] == 3 and sure_and_wrong["relative_error"] == pytest.approx((3.1 - 1) / 3)
    assert sure_and_wrong["rps"] == pytest.approx((0.9**2 + 0.6**2) / 2)


def test_versions_are_put_back_in_grid_order_under_each_rule() -> None:
    middle = {**SMALL, "answer": 1}  # versions: the real value (grid 1) first, then grid 0 and 2
    options = [
        OptionScore(2.0, math.log(0.2), 10, 40),
        OptionScore(4.0, math.log(0.3), 10, 40),
        OptionScore(4.0, math.log(0.5), 10, 40),
    ]
    assert grid_probabilities(options, middle, "ppl") == pytest.approx([0.25, 0.5, 0.25])  # p proportional to 1 / PPL
    assert grid_probabilities(options, middle, "sum") == pytest.approx(
        [0.3, 0.2, 0.5]
    )  # p proportional to the text's probability


def test_the_summary_against_the_uniform_grid_by_hand() -> None:
    records = [
        {"status": "ok", "grid": GRID, "forecast": forecast([0.1, 0.2, 0.4, 0.2, 0.1], GRID["numeric"], 2)},
        {"status": "ok", "grid": SMALL, "forecast": forecast([0.1, 0.3, 0.6], SMALL["numeric"], 0)},
        {"status": "error", "grid": SMALL},
    ]
    summary = graded_summary(records)
    assert summary["n"] == 2
    assert summary["mae_relative"] == pytest.approx((1 / 60 + 2.1 / 3) / 2) and summary["mean_rank"] == 2
    assert summary["rps"] == pytest.approx((0.05 + 0.585) / 2)
    assert summary["coverage_50"] == 0.5 and summary["coverage_80"] == 1.0
    assert summary["interval_mass_50"] == pytest.approx((0.8 + 0.9) / 2) and summary[
        "interval_mass_80"
    ] == pytest.approx((0.9 + 1) / 2)
    uniform = summary["uniform"]
    assert uniform["rps"] == pytest.approx((0.1 + 5 / 18) / 2) and uniform["coverage_50"] == 1.0
    assert uniform["mae_relative"] == pytest.approx((2 / 60 + (7 / 3 - 1) / 3) / 2)
    differences = [0.05 - 0.1, 0.585 - 5 / 18]
    mean = sum(differences) / 2
    half = (
        12.7062047 * abs(differences[0] - differences[1]) / math.sqrt(2) / math.sqrt(2)
    )  # t(0.975, 1 df) * SD / sqrt(n)
    assert summary["rps_difference"] == pytest.approx(mean)
    assert summary["rps_difference_ci95"] == pytest.approx([mean - half, mean + half], rel=1e-6)
    assert graded_summary([{"status": "ok"}]) is None


def test_the_grid_travels_through_the_store_and_older_stores_get_its_column(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = ResultsStore(path)
    store.register_scorer({"backend": "fake"}, {})
    cases = [
        RunCase(0, "10.1/x", "Systems", "graded", ("a", "b", "c"), (2, 0, 1), grid=SMALL),
        RunCase(1, "10.1/y", "Systems", "human", ("d", "e"), (0, 1)),
    ]
    spec = RunSpec(backend="fake", model="m", template=None, template_sha256=None, dataset="d", dataset_sha256="0")
    store.register_run("run", "scorer", RunInfo.build(spec, model="m", scorer={}, n_requested=2), cases)
    assert store.run_cases("run") == cases
    with store.engine.begin() as connection:  # a store from before graded cases
        connection.execute(sa.text("ALTER TABLE run_cases DROP COLUMN grid"))
    old = ResultsStore(path, create=False)
    assert [case.grid for case in old.run_cases("run")] == [None, None]  # listing an old store works and writes nothing
    assert "grid" not in {column["name"] for column in sa.inspect(old.engine).get_columns("run_cases")}
    ResultsStore(path)
    assert "grid" in {column["name"] for column in sa.inspect(old.engine).get_columns("run_cases")}


@pytest.mark.slow
def test_the_graded_set_on_the_embedded_model(tmp_path: Path, data_dir: Path, embedded_scorer) -> None:
    runner = CliRunner()
    out = tmp_path / "graded"
    result = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            "brainbench-graded",
            "--items",
            "15,16",
            "--out",
            str(out),
            "--json",
            "--store",
            str(tmp_path / "store.sqlite"),
            "--data-dir",
            str(data_dir),
            "--offline",
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [record["grid"]["values"] for record in records] == [
        ["40 ms", "66 ms", "90 ms", "115 ms", "140 ms"],
        ["90 ms", "110 ms", "146 ms", "200 ms", "300 ms"],
    ]
    for record in records:
        assert sum(record["forecast"]["p"]) == pytest.approx(1)
        assert record["forecast"] == forecast(
            grid_probabilities(
                [OptionScore(o["ppl"], o["sum_logprob"], o["n_tokens"], o["n_bytes"]) for o in record["options"]],
                record["grid"],
            ),
            record["grid"]["numeric"],
            record["grid"]["answer"],
        )
    graded = summary["graded"]
    assert graded["n"] == 2 and set(graded["uniform"]) >= {"mae_relative", "rps", "coverage_50", "coverage_80"}
    assert graded["rps"] == pytest.approx(sum(record["forecast"]["rps"] for record in records) / 2)
    by_sum = runner.invoke(app, ["summary", str(out), "--normalisation", "sum", "--json"])
    assert by_sum.exit_code == 0 and json.loads(by_sum.stdout)["graded"]["rps"] != pytest.approx(graded["rps"])
    shown = runner.invoke(app, ["summary", str(out)])
    assert shown.exit_code == 0 and "ranked probability score" in shown.stdout and "RPS model - uniform" in shown.stdout
