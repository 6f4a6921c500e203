"""The report's graded section, opened in a real headless Chromium: the scripted scorer stands in for a model (what
is tested here is the way from records to the page; the forecasts are tested in tests/runs/test_graded.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.runs import run_benchmark
from tests.fakes import FakeScorer
from tests.report.test_report import CHROMIUM_ARGS, chromium_path


@pytest.mark.slow  # a browser
def test_the_graded_section_renders_in_chromium(tmp_path: Path, data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    graded = load_dataset("brainbench-graded", data_dir=data_dir, offline=True)
    summary = run_benchmark(graded, FakeScorer(), tmp_path / "run", store=tmp_path / "store.sqlite")
    result = CliRunner().invoke(
        app,
        ["report", str(tmp_path / "run"), "--out", str(tmp_path / "report.html"), "--figures", str(tmp_path / "figs")],
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "figs" / "fig_graded.png").is_file()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto((tmp_path / "report.html").as_uri())
            section = page.locator("section", has_text="Graded results: predicted mean and spread")
            figure = section.locator("figure[data-figure='fig_graded'] img").evaluate(
                "img => img.complete && img.naturalWidth > 100"
            )
            text = section.inner_text()
            rows = section.locator("table").nth(1).locator("tbody tr").count()
        finally:
            browser.close()
    assert figure and rows == 27
    assert (
        f"RPS {summary['graded']['rps']:.4f} against the uniform grid's {summary['graded']['uniform']['rps']:.4f}"
        in text
    )
    records = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert summary["graded"]["n"] == len(records) == 27
