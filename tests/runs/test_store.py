"""The results store under the conditions it is for: killed runs and several writers at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from brainbench.data.files import load_cases
from brainbench.runs import load_run, run_benchmark
from brainbench.runs.store import ResultsStore, store_url
from tests.commands import EMBEDDED_RUN_ITEMS, TIMINGS, embedded_run_args, invoke, run_records, start_embedded_run
from tests.fakes import FakeScorer

N_CASES = 120


def strip(records):
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records]


def _write_cases(path: Path, n: int) -> Path:
    rows = "".join(f'doi{i},Systems/Circuits,"Item {i}: rates [[rose, fell sharply]] in area {i}."\n' for i in range(n))
    path.write_text("doi,journal_section,combined_abstract\n" + rows, encoding="utf-8")
    return path


def _writer(cases_path: str, store: str, out_dir: str, tag: str, queue) -> None:
    try:
        summary = run_benchmark(load_cases(Path(cases_path)), FakeScorer(tag=tag), Path(out_dir), store=store)
        queue.put(("ok", summary["n_scored"], summary["accuracy"]))
    except Exception as error:  # reported to the test, which fails on it
        queue.put(("error", repr(error), None))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_concurrent_writers_neither_corrupt_nor_duplicate(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    cases = _write_cases(tmp_path / "cases.csv", N_CASES)
    store = str(tmp_path / "shared.sqlite") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    # two writers scoring the same texts with the same scorer, two with another scorer, all at once
    writers = [
        context.Process(target=_writer, args=(str(cases), store, str(tmp_path / f"run{i}"), tag, queue))
        for i, tag in enumerate(["a", "a", "b", "b"])
    ]
    for writer in writers:
        writer.start()
    outcomes = [queue.get(timeout=300) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)
    assert all(status == "ok" for status, _, _ in outcomes), outcomes
    assert {(n, accuracy) for _, n, accuracy in outcomes} == {(N_CASES, outcomes[0][2])}
    results = ResultsStore(store)
    assert results.count_scores() == 2 * 2 * N_CASES  # each text once per scorer
    runs = results.list_runs()
    assert len(runs) == 2 and all(run["scored"] == N_CASES for run in runs)
    assert strip(load_run(tmp_path / "run0")[1]) == strip(load_run(tmp_path / "run1")[1])


def test_store_locations(tmp_path: Path) -> None:
    assert store_url(tmp_path / "x.sqlite") == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert store_url("postgresql+psycopg://me:secret@db/brainbench") == "postgresql+psycopg://me:secret@db/brainbench"
    store = ResultsStore(tmp_path / "new" / "dir" / "x.sqlite")  # folders are created
    assert store.count_scores() == 0 and store.list_runs() == []


@pytest.mark.slow
def test_kill_9_and_resume_gives_the_uninterrupted_results(data_dir: Path, tmp_path: Path, embedded_run: Path) -> None:
    """A real run on the embedded model, killed with SIGKILL mid-way (after the first call's 8 cases are
    committed), then started again (in this process): it ends as the session's uninterrupted run."""
    out, store = tmp_path / "killed", tmp_path / "killed.sqlite"
    process = start_embedded_run(out, store, data_dir, stored_texts=6)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored_texts = ResultsStore(store).count_scores()
    assert 6 <= stored_texts < 2 * EMBEDDED_RUN_ITEMS

    resumed = invoke(*embedded_run_args(data_dir, out, store))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {stored_texts // 2} of {EMBEDDED_RUN_ITEMS} items already in the results store" in resumed.stderr
    assert run_records(out) == run_records(embedded_run)
    assert ResultsStore(store).count_scores() == 2 * EMBEDDED_RUN_ITEMS
