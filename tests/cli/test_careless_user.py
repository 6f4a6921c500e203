"""What a careless user found, each one command away from a traceback, a silent overwrite or a wrong number (issue
28's list); the generated matrix (test_mistake_matrix.py) covers wrong paths for every command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from brainbench.data import load_cases
from brainbench.runs import load_run, run_benchmark
from tests.commands import invoke, one_clear_line
from tests.fakes import FakeScorer

CASES = """doi,journal_section,combined_abstract
a,Behavioral/Cognitive,"Rates [[rose, skyrocketed]] sharply."
b,Behavioral/Cognitive,"Cells [[fired, discharged]] more."
c,Systems/Circuits,"Mice [[explored, investigated]] less."
d,Systems/Circuits,"Spikes [[synchronised, fell]] here."
"""


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    path = tmp_path / "cases.csv"
    path.write_text(CASES, encoding="utf-8")
    return path


def test_a_negative_seed_is_an_option_error(cases: Path, tmp_path: Path) -> None:
    line = one_clear_line(invoke("run", "--dataset", str(cases), "--seed", "-1", "--out", str(tmp_path / "r")))
    assert "--seed: -1" in line
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"seed: -4\ndatasets: [{cases}]\nmodels: [{{}}]\n", encoding="utf-8")
    assert "seed: -4" in one_clear_line(invoke("sweep", str(sweep)))


def test_errors_keep_their_brackets(cases: Path, tmp_path: Path) -> None:
    """An error about [[...]] text shows the text (rich read it as markup and dropped it)."""
    line = one_clear_line(invoke("run", "--dataset", str(cases), "--items", "[[a | b]]", "--out", str(tmp_path / "r")))
    assert "'[[a | b]]'" in line


def test_a_template_and_a_template_file_together_are_refused(cases: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.txt"
    template.write_text("<choice abstract>", encoding="utf-8")
    result = invoke(
        "run", "--dataset", str(cases), "--template", "gpt2", "--template-file", str(template), "--out", str(tmp_path)
    )
    assert "not both" in one_clear_line(result)


def test_summary_json_is_valid_json_without_a_scored_item(cases: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(load_cases(cases), FakeScorer(interrupt_after=0), tmp_path / "run", store=tmp_path / "s.sqlite")
    result = invoke("summary", str(tmp_path / "run"), "--json")
    summary = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert result.returncode == 3 and summary["accuracy"] is None and summary["n_items"] == 0


def test_runs_of_different_datasets_are_not_averaged(cases: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text(CASES.replace("Rates", "Levels"), encoding="utf-8")
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "a", store=tmp_path / "s.sqlite")
    run_benchmark(load_cases(other), FakeScorer(), tmp_path / "b", store=tmp_path / "s.sqlite")
    for command in (("compare",), ("report", "--out", str(tmp_path / "report.html"))):
        line = one_clear_line(invoke(*command[:1], str(tmp_path / "a"), str(tmp_path / "b"), *command[1:]))
        assert "runs of 2 datasets" in line and "cases" in line and "other" in line
    assert not (tmp_path / "report.html").exists()


def test_compare_and_report_say_which_runs_are_partial_or_of_one_model(cases: Path, tmp_path: Path) -> None:
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "whole", store=tmp_path / "s.sqlite")
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(
            load_cases(cases), FakeScorer(interrupt_after=1, tag="x"), tmp_path / "part", store=tmp_path / "s.sqlite"
        )
    result = invoke("compare", str(tmp_path / "whole"), str(tmp_path / "part"), "--allow-partial")
    assert result.returncode == 0 and "is partial (1 of 4 items), used as it is" in result.stdout
    assert "fake-scorer has 2 runs" in result.stdout  # one model, counted twice by a mean over models
    report = tmp_path / "report.html"
    result = invoke("report", str(tmp_path / "whole"), str(tmp_path / "part"), "--allow-partial", "--out", str(report))
    assert result.returncode == 0 and "is partial (1 of 4 items)" in report.read_text()


def test_export_of_a_run_directory_keeps_the_items_its_run_asked_for(cases: Path, tmp_path: Path) -> None:
    """A complete --limit 2 run stays 2 items, complete, though the store holds all 4 of the same run."""
    store = tmp_path / "s.sqlite"
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "all", store=store)
    dataset = load_cases(cases)
    run_benchmark(dataset, FakeScorer(), tmp_path / "two", store=store, cases=dataset.cases[:2])
    before = (tmp_path / "two" / "results.jsonl").read_text()
    result = invoke("export", str(tmp_path / "two"), "--store", str(store))
    assert result.returncode == 0, result.stderr
    info, records = load_run(tmp_path / "two")
    assert (len(records), info.n_requested, info.items) == (2, 2, [0, 1])
    assert (tmp_path / "two" / "results.jsonl").read_text() == before


def test_export_refuses_another_runs_directory(cases: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "a", store=store)
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "b", store=store, seed=7)
    before = (tmp_path / "b" / "run.json").read_text()
    line = one_clear_line(invoke("export", str(tmp_path / "a"), "--out", str(tmp_path / "b"), "--store", str(store)))
    assert "holds another run (its seed differ)" in line and (tmp_path / "b" / "run.json").read_text() == before
    result = invoke("export", str(tmp_path / "a"), "--out", str(tmp_path / "b"), "--store", str(store), "--overwrite")
    assert result.returncode == 0 and load_run(tmp_path / "b")[0].seed == 42


def test_the_choice_protocol_has_its_own_default_directory(cases: Path) -> None:
    from brainbench.runs.plan import run_dir_name

    assert run_dir_name("m", "d", protocol="choice") != run_dir_name("m", "d")


def test_team_refuses_more_folds_than_items(cases: Path, tmp_path: Path, data_dir: Path) -> None:
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "a", store=tmp_path / "s.sqlite")
    result = invoke(
        "team",
        str(tmp_path / "a"),
        "--humans",
        str(data_dir / "participant_data.csv"),
        "--abstract-ids",
        str(data_dir / "abstract_id_doi.csv"),
        "--folds",
        "100000",
    )
    assert "more folds than" in one_clear_line(result)


def test_json_output_has_no_nan() -> None:
    from brainbench.cli.app import _finite

    assert _finite({"a": [math.nan, 1.0, math.inf]}) == {"a": [None, 1.0, None]}


def test_help_lists_the_commands_by_group() -> None:
    text = invoke("--help").stdout
    groups = ["Run and results:", "Analyses:", "Human study:", "New test cases:", "Training:", "Integrations:"]
    assert [text.index(group) for group in groups] == sorted(text.index(group) for group in groups)
    assert text.index("  run ") < text.index("Analyses:") < text.index("  compare ") < text.index("Human study:")


@pytest.mark.slow  # loads the embedded model in this process
def test_a_run_that_scores_nothing_says_so_rather_than_a_scoring_time(cases: Path, tmp_path: Path) -> None:
    args = ("run", "--dataset", str(cases), "--limit", "1", "--out", str(tmp_path / "r"))
    args += ("--store", str(tmp_path / "s.sqlite"), "--template", "none", "--offline")
    first = invoke(*args)
    assert first.returncode == 0 and "scoring time" in first.stdout, first.stderr
    again = invoke(*args)
    assert again.returncode == 0 and "nothing scored now" in again.stdout and "scoring time" not in again.stdout


def test_one_option_under_two_spellings_is_refused(tmp_path: Path) -> None:
    result = invoke("summary", str(tmp_path), "--normalisation", "bytes", "--score", "sum")
    assert result.returncode == 2 and "give it once" in result.stderr
