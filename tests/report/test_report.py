"""The HTML report, opened in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.analysis import results_table, trials_of
from brainbench.cli import app
from brainbench.data import load_human_study
from brainbench.report import build_sections, render_html
from brainbench.runs import load_run

EXPECTED_FIGURES = {
    "fig3a_accuracy",
    "fig3b_subfields",
    "fig3c_researcher_type",
    "fig4_calibration",
    "figS6_agreement",
    "figS3_S4_context",
    "figS8_publication_date",
    "figS7_memorisation",  # GPT-2's released ZLIB_A_and_B.npy and j_of_neuro arrays: Fig S7 from the paper's numbers
    "fig5_finetuning_boost",
    "fig_teams",
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    runner = CliRunner()
    source = data_dir / "published_results"
    run_dirs = []
    for model in (
        "mistralai--Mistral-7B-v0.1",
        "gpt2",
        "TinyLlama--TinyLlama_v1.1",
        "lora_r256_a512_finetune_mistral_7b_v01",
    ):
        result = runner.invoke(
            app,
            [
                "import-published",
                str(source / model / "human_abstracts"),
                "--model",
                model,
                "--out",
                str(out / model),
                "--data-dir",
                str(data_dir),
            ],
        )
        assert result.exit_code == 0, result.stderr
        run_dirs.append(str(out / model))
    mistral = out / "mistralai--Mistral-7B-v0.1"
    run_dirs += [str(mistral / "no-context"), str(mistral / "swapped-seed42"), str(mistral / "swapped-seed1234")]
    result = runner.invoke(
        app,
        [
            "report",
            *run_dirs,
            "--out",
            str(out / "report.html"),
            "--figures",
            str(out / "figs"),
            "--data-dir",
            str(data_dir),
            "--finetuned",
            "mistralai--Mistral-7B-v0.1=lora_r256_a512_finetune_mistral_7b_v01",
            "--json",
            "--explorer",
            str(out / "explorer.html"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    (out / "report.json").write_text(result.stdout, encoding="utf-8")
    (out / "run_dirs.txt").write_text("\n".join(run_dirs), encoding="utf-8")
    return out


@pytest.mark.slow  # the report's every figure, drawn
def test_figure_files(report: Path) -> None:
    names = {path.name for path in (report / "figs").iterdir()}
    assert names == {f"{figure}.{suffix}" for figure in EXPECTED_FIGURES for suffix in ("png", "svg")}


@pytest.mark.slow  # a browser
def test_report_renders_in_chromium(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto((report / "report.html").as_uri())
            figures = page.eval_on_selector_all("figure[data-figure]", "nodes => nodes.map(n => n.dataset.figure)")
            decoded = page.eval_on_selector_all(
                "figure img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 100)"
            )
            text = page.inner_text("body")
            page.screenshot(path=str(report / "report.png"), full_page=True)
        finally:
            browser.close()
    assert set(figures) == EXPECTED_FIGURES
    assert decoded and all(decoded)
    assert "63.4%" in text and "83.0%" in text and "66.2%" in text
    assert "Integration of context" in text and "68.2%" in text and "69.5%" in text  # Mistral without context, swapped
    assert "Accuracy and publication date" in text
    # Fig 5 from the released arrays: BrainGPT 86.0% vs Mistral-7B 83.0%, the paper's t(199) = 15.7 on the correct
    # option's PPL
    assert "Fine-tuning boost" in text and "86.0%" in text and "15.71" in text
    assert (report / "report.png").stat().st_size > 10_000


@pytest.mark.slow  # every section of the report over 16 runs, teams and figures included (8 s)
def test_the_papers_headline_stays_with_other_runs_beside_it(data_dir: Path, paper_set_runs: dict[str, Path]) -> None:
    """The paper's 15 models (stand-ins, see tests/analysis/paper_reference.py) and BrainGPT: the headline is the
    15-model mean, BrainGPT is listed apart, and the chat/size findings and Table S3 have their section and tables."""
    runs = {name: load_run(run_dir)[1] for name, run_dir in paper_set_runs.items()}
    results = results_table(runs)
    sections = {
        section.title: section
        for section in build_sections(results, trials_of(load_human_study(data_dir=data_dir, offline=True), "human"))
    }
    overview = sections["Accuracy: models and human experts (Fig 3A)"].text
    mean = (
        results[results["model"] != "lora_r256_a512_finetune_mistral_7b_v01"].groupby("model")["correct"].mean().mean()
    )
    assert overview.startswith(
        f"Mean over the paper's 15 models: {100 * mean:.1f}%. Not in the mean: lora_r256_a512_finetune_mistral_7b_v01 "
        "86.0%."
    )
    assert "Cohen's d_av" in overview
    families = sections["Chat/instruct tuning and model size"]
    assert (
        "chat_and_size" in families.figures
        and len(families.tables["Chat/instruct vs base model (difference chat - base; bootstrap 95% CI, McNemar)"]) == 6
    )
    table_s3 = sections["Calibration (Fig 4, Table S3)"].tables[
        "Table S3: logistic regression of correct on confidence"
    ]
    assert table_s3.index[15] == "human experts" and len(table_s3) == 17
    html = render_html("report", list(sections.values()))
    assert "human experts (top 20%)" in html and "mean_experience_years" in html


@pytest.mark.slow
def test_a_new_model_gets_every_section(data_dir: Path, tmp_path: Path) -> None:
    """The embedded model through run --memorisation and run --condition, then the report."""
    runner = CliRunner()
    common = [
        "--dataset",
        "brainbench-human",
        "--data-dir",
        str(data_dir),
        "--limit",
        "4",
        "--store",
        str(tmp_path / "store.sqlite"),
    ]
    for extra, out in (
        (["--memorisation"], "full"),
        (["--condition", "no-context"], "nc"),
        (["--condition", "swapped"], "sw"),
    ):
        result = runner.invoke(app, ["run", *common, *extra, "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.stderr
    assert len((tmp_path / "full" / "memorisation.jsonl").read_text().splitlines()) == 4 * 2 + 1
    result = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "full"),
            str(tmp_path / "nc"),
            str(tmp_path / "sw"),
            "--out",
            str(tmp_path / "report.html"),
            "--figures",
            str(tmp_path / "figs"),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.stderr
    names = {path.stem for path in (tmp_path / "figs").iterdir()}
    assert {"figS3_S4_context", "figS7_memorisation", "figS8_publication_date"} <= names
    html = (tmp_path / "report.html").read_text()
    assert "Memorisation by model" in html and "swapped (seed 42)" in html and "no-context (per abstract)" in html


@pytest.mark.slow  # the report's every figure, drawn (the module's report)
def test_report_json_numbers_equal_the_librarys(report: Path, data_dir: Path) -> None:
    """``report --json`` holds the numbers the library computes, unrounded: the accuracies, Fig 4's bin accuracies
    and fits, Figs S3/S4's accuracy by condition, Fig 5's t-test and Fig S8's correlations."""
    import json

    import pandas as pd

    from brainbench.analysis import (
        calibration_by_model,
        calibration_fit,
        comparison_tables,
        condition_label,
        context_table,
        finetuning_boost,
        publication_date_correlation,
    )
    from brainbench.data import load_publication_dates
    from brainbench.runs.collection import read_runs

    payload = json.loads((report / "report.json").read_text(encoding="utf-8"))
    sections = {section["title"]: section for section in payload["sections"]}
    loaded = read_runs([Path(line) for line in (report / "run_dirs.txt").read_text().splitlines()])
    full = {run.info.model: run.records for run in loaded if run.info.condition == "full"}
    results = results_table(full)
    trials = trials_of(load_human_study(data_dir=data_dir, offline=True), "human")

    tables = comparison_tables(results, trials)
    models = {row["model"]: row for row in sections["Accuracy: models and human experts (Fig 3A)"]["tables"]["Models"]}
    assert {name: row["accuracy"] for name, row in models.items()} == tables["accuracy"]["accuracy"].to_dict()

    calibration = sections["Calibration (Fig 4, Table S3)"]["data"]
    bins = calibration_by_model(results, trials)
    for row in calibration["fig4_bins"]:
        expected = bins[row["model"]].loc[row["bin"], "accuracy"]
        assert row["accuracy"] == (None if pd.isna(expected) else expected)
    fits = {row["model"]: row for row in calibration["fig4_fit"]}
    assert fits["human experts"]["slope"] == calibration_fit(bins["human experts"])["slope"]
    assert (
        fits["mistralai--Mistral-7B-v0.1"]["intercept"]
        == calibration_fit(bins["mistralai--Mistral-7B-v0.1"])["intercept"]
    )

    by_condition = [
        results_table({run.info.model: run.records}).assign(
            condition=condition_label(run.info.condition, run.info.seed)
        )
        for run in loaded
    ]
    conditions = pd.concat(by_condition, ignore_index=True)
    expected_context = context_table(conditions)
    for row in sections["Integration of context (Figs S3, S4)"]["tables"]["Accuracy by condition"]:
        model = row.pop("model")
        assert row == {key: (None if pd.isna(v) else v) for key, v in expected_context.loc[model].items()}

    boost = sections["Fine-tuning boost (Fig 5)"]["tables"]["Fine-tuning boost"][0]
    expected_boost = finetuning_boost(results, "mistralai--Mistral-7B-v0.1", "lora_r256_a512_finetune_mistral_7b_v01")
    assert boost["t_correct_ppl"] == expected_boost["t_correct_ppl"] and round(boost["t_correct_ppl"], 2) == 15.71

    dates = load_publication_dates(data_dir=data_dir, offline=True)
    correlations = publication_date_correlation(results, dates)
    shown = sections["Accuracy and publication date (Fig S8)"]
    assert {row["model"]: row["spearman_rho"] for row in shown["tables"]["Publication date"]} == correlations[
        "spearman_rho"
    ].to_dict()
    assert len(shown["data"]["figS8_points"]) == 4 * 200

    import numpy as np

    released = data_dir / "published_results" / "gpt2" / "human_abstracts"
    ppl, labels = np.load(released / "PPL_A_and_B.npy"), np.load(released / "labels.npy")
    points = sections["Memorisation (Fig S7)"]["data"]["figS7_points"]
    originals = {row["item_id"]: row["ppl"] for row in points if row["model"] == "gpt2" and row["kind"] == "original"}
    assert originals == {row: ppl[row, label] for row, label in enumerate(labels)}  # the paper's own numbers


@pytest.mark.slow  # a browser
def test_report_reads_on_one_page_and_links_the_explorer(report: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((report / "report.html").as_uri())
            expect(page.get_by_role("link", name="Open explorer.html")).to_have_attribute("href", "explorer.html")
            # no table is wider than the page: a wide one scrolls inside its own box
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            expect(page.locator("th[title='mistralai--Mistral-7B-v0.1']").first).to_have_text("Mistral-7B-v0.1")
            page.get_by_role("link", name="Open explorer.html").click()
            expect(page.locator("#count")).to_have_text("200 of 200 items")
        finally:
            browser.close()
