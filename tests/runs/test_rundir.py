"""Run directories have one writer and one reader; those written by brainbench 0.8 (run.json schema 2, the spec's
fields repeated at the top level, no list of items) still load, summarise, compare, export and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from brainbench.data import load_cases
from brainbench.errors import RunError
from brainbench.runs import load_run, run_benchmark
from brainbench.runs.rundir import read_run_info
from brainbench.runs.store import ResultsStore
from tests.commands import invoke
from tests.fakes import FakeScorer

CASES = """doi,journal_section,combined_abstract
a,Behavioral/Cognitive,"Rates [[rose, skyrocketed]] sharply."
b,Systems/Circuits,"Cells [[fired, discharged]] more."
"""


def as_schema_2(info: dict) -> dict:
    """run.json as brainbench 0.8 wrote it."""
    spec = info["spec"]
    old = {key: value for key, value in info.items() if key != "items"} | {"schema_version": 2}
    return (
        old
        | {key: spec[key] for key in ("dataset", "dataset_sha256", "texts", "template_sha256", "seed")}
        | {
            "template": spec["template"] or "paper",
            "condition": spec["condition"],
            "protocol": spec["protocol"],
        }
    )


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    (tmp_path / "cases.csv").write_text(CASES, encoding="utf-8")
    store = tmp_path / "store.sqlite"
    run_benchmark(load_cases(tmp_path / "cases.csv"), FakeScorer(), tmp_path / "run", store=store)
    run_file = tmp_path / "run" / "run.json"
    old = as_schema_2(json.loads(run_file.read_text()))
    run_file.write_text(json.dumps(old))
    with sa.create_engine(f"sqlite:///{store}").begin() as connection:  # the store's copy too
        connection.execute(sa.text("UPDATE runs SET info = :info"), {"info": json.dumps(old)})
    return tmp_path / "run"


def test_a_schema_2_run_directory_loads_as_schema_3(old_run: Path) -> None:
    info, records = load_run(old_run)
    assert (info.schema_version, info.dataset, info.seed, info.n_requested, len(records)) == (3, "cases.csv", 42, 2, 2)
    assert ResultsStore(old_run.parent / "store.sqlite").list_runs()[0]["seed"] == 42


def test_every_command_reads_a_schema_2_run_directory(old_run: Path) -> None:
    assert invoke("summary", str(old_run)).returncode == 0
    assert invoke("compare", str(old_run)).returncode == 0
    assert invoke("report", str(old_run), "--out", str(old_run.parent / "r.html")).returncode == 0
    exported = invoke("export", str(old_run), "--store", str(old_run.parent / "store.sqlite"))
    assert exported.returncode == 0, exported.stderr
    assert json.loads((old_run / "run.json").read_text())["schema_version"] == 3  # rewritten in the new form
    assert len(load_run(old_run)[1]) == 2


@pytest.mark.parametrize("text", ["{broken", "[]", "{}", '{"schema_version": 2, "spec": 5}'])
def test_a_damaged_run_json_is_named(tmp_path: Path, text: str) -> None:
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(RunError, match="run.json"):
        read_run_info(tmp_path / "run.json")
