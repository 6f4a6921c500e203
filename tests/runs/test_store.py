"""The results store under the conditions it is for: killed runs and several writers at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brainbench.data.files import load_cases
from brainbench.runs import load_run, run_benchmark
from brainbench.runs.store import ResultsStore, store_url
from tests.fakes import FakeScorer

N_CASES = 120


def strip(records):
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "brainbench", *args]


@pytest.mark.slow
def test_kill_9_and_resume_gives_the_uninterrupted_results(data_dir: Path, tmp_path: Path) -> None:
    """A real run on the embedded model, killed with SIGKILL mid-way, then started again."""
    common = ["run", "--limit", "10", "--data-dir", str(data_dir), "--offline"]
    store = tmp_path / "killed.sqlite"
    process = subprocess.Popen(
        _cli(*common, "--out", str(tmp_path / "killed"), "--store", str(store)), stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists() and ResultsStore(store).count_scores() >= 6:  # three cases committed
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored_texts = ResultsStore(store).count_scores()
    assert 6 <= stored_texts < 20

    resumed = subprocess.run(
        _cli(*common, "--out", str(tmp_path / "killed"), "--store", str(store)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"resuming: {stored_texts // 2} of 10 items already in the results store" in resumed.stderr
    subprocess.run(
        _cli(*common, "--out", str(tmp_path / "whole"), "--store", str(tmp_path / "whole.sqlite")),
        capture_output=True,
        check=True,
    )

    assert strip(load_run(tmp_path / "killed")[1]) == strip(load_run(tmp_path / "whole")[1])
    assert ResultsStore(store).count_scores() == 20
