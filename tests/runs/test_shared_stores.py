"""One evaluation spread over processes through one results store: a run directory read from its own store, a
PostgreSQL server that restarts or goes away mid-run, launchers (torchrun, accelerate) and their shards, and two
runs started into one --out. Scoring is the FakeScorer's (orchestration only) except where a real run is the point."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from brainbench.data.files import load_cases
from brainbench.db import display_url
from brainbench.errors import BackendError, StoreUnavailableError
from brainbench.runs import RunConfig, RunPlan, execute_run, load_run, plan_run, resolve_model, run_benchmark
from brainbench.runs.store import ResultsStore
from brainbench.runs.summary import scoring_wall_s
from brainbench.scoring.devices import resolve_device
from tests.commands import TIMINGS, invoke, one_clear_line
from tests.fakes import FakeScorer
from tests.servers import PostgresServer


def _cases(tmp_path: Path, n: int) -> Path:
    """n test cases whose texts no other test scores."""
    path = tmp_path / "cases.csv"
    rows = "".join(
        f'd{i},Systems/Circuits,"Run {tmp_path.name} item {i}: rates [[rose, fell sharply]] in area {i}."\n'
        for i in range(n)
    )
    path.write_text("doi,journal_section,combined_abstract\n" + rows, encoding="utf-8")
    return path


def _records(run_dir: Path) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMINGS} for record in load_run(run_dir)[1]]


# --- which store ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_a_run_directory_is_exported_and_listed_from_its_own_store(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BRAINBENCH_STORE pointing at another store that holds 2 items of the same run rewrote a complete 4-item run
    directory as those 2 (its store and out replaced); a different --store is refused with both named."""
    # PostgreSQL: a server of its own (test_store counts every score in the session's)
    own = str(tmp_path / "own.sqlite") if backend == "sqlite" else request.getfixturevalue("own_postgres").url
    other = str(tmp_path / "other.sqlite")
    dataset = load_cases(_cases(tmp_path, 4))
    run_benchmark(dataset, FakeScorer(), tmp_path / "run", store=own)
    run_benchmark(dataset, FakeScorer(), tmp_path / "two", store=other, cases=dataset.cases[:2])  # the same run
    monkeypatch.setenv("BRAINBENCH_STORE", other)

    exported = invoke("export", str(tmp_path / "run"))
    assert exported.returncode == 0, exported.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["n_items"], summary["partial"]) == (4, False)
    info = load_run(tmp_path / "run")[0]
    assert (info.store, info.out) == (display_url(own), str(tmp_path / "run"))
    [listed] = json.loads(invoke("runs", str(tmp_path / "run"), "--json").stdout)
    assert (listed["scored"], listed["out"]) == (4, str(tmp_path / "run"))

    line = one_clear_line(invoke("export", str(tmp_path / "run"), "--store", other))
    assert f"came from the results store {display_url(own)}, not {display_url(other)} (--store)" in line
    assert invoke("runs", str(tmp_path / "run"), "--store", own, "--json").returncode == 0  # its own, named


# --- a PostgreSQL server that restarts or goes away ---------------------------------------------------------------


class _StopsTheServer(FakeScorer):
    """Runs ``action`` (stop or restart the server) while it scores its ``at``-th call, as a server may at any time."""

    def __init__(self, action, at: int = 3) -> None:
        super().__init__()
        self.action, self.at = action, at

    def score_texts(self, texts):
        if self.calls + 1 == self.at:
            self.action()
        return super().score_texts(texts)


@pytest.mark.slow
def test_a_server_back_within_the_wait_loses_nothing(tmp_path: Path, own_postgres: PostgresServer) -> None:
    """The server stops while a case is scored and starts again 1.5 s later, so that committing that case finds it
    gone: the store waits and reconnects, and the run ends as an uninterrupted one (it died with a 95-line
    OperationalError). Then a plain restart between two commits: the pooled connection it closed is replaced."""
    dataset = load_cases(_cases(tmp_path, 6))
    whole = run_benchmark(dataset, FakeScorer(), tmp_path / "whole", store=tmp_path / "whole.sqlite")

    def stop_then_start_later() -> None:
        own_postgres.stop()
        threading.Timer(1.5, own_postgres.start).start()

    summary = run_benchmark(dataset, _StopsTheServer(stop_then_start_later), tmp_path / "run", store=own_postgres.url)
    assert _records(tmp_path / "run") == _records(tmp_path / "whole") and summary["accuracy"] == whole["accuracy"]

    again = run_benchmark(
        dataset, _StopsTheServer(own_postgres.restart), tmp_path / "seed7", store=own_postgres.url, seed=7
    )
    assert again["n_scored"] == 6 and ResultsStore(own_postgres.url).count_scores() == 12  # scored texts reused


@pytest.mark.slow
def test_a_server_that_is_gone_stops_the_run_with_one_line(
    tmp_path: Path, own_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server stopped for good mid-run: after the wait (cut to 1 s here) one line says which store, why, what it
    keeps and how to resume (it was a 204-line chained traceback, SQL parameters and blobs included); once the server
    is back, the same run resumes to the uninterrupted results."""
    monkeypatch.setattr("brainbench.db.RECONNECT_S", 1.0)
    dataset = load_cases(_cases(tmp_path, 6))
    run_benchmark(dataset, FakeScorer(), tmp_path / "whole", store=tmp_path / "whole.sqlite")
    with pytest.raises(StoreUnavailableError) as stopped:
        run_benchmark(dataset, _StopsTheServer(own_postgres.stop), tmp_path / "run", store=own_postgres.url)
    message = str(stopped.value)
    assert "\n" not in message and "INSERT" not in message and "token_logprobs" not in message, message
    assert message.startswith(f"results store {display_url(own_postgres.url)}: the connection was lost (")
    assert message.endswith(
        "did not answer again within 1 s; it keeps what was scored before: 2 of 6 items; run the same command "
        "again once it answers, to resume from there"
    )
    own_postgres.start()
    run_benchmark(dataset, FakeScorer(), tmp_path / "run", store=own_postgres.url)
    assert _records(tmp_path / "run") == _records(tmp_path / "whole")


class _SlowScorer(FakeScorer):
    delay_s = 0.25  # per call: long enough for a server restart to land mid-run

    def score_texts(self, texts):
        time.sleep(self.delay_s)
        return super().score_texts(texts)


class _TimedScorer(_SlowScorer):
    delay_s = 0.01  # a measurable scoring time, for throughput


def _shard(cases: str, store: str, out: str, index: int, queue) -> None:
    try:
        summary = run_benchmark(load_cases(Path(cases)), _SlowScorer(), Path(out), store=store, shard=(index, 2))
        queue.put(("ok", summary["n_items"]))
    except Exception as error:  # reported to the test, which fails on it
        queue.put(("error", repr(error)))


@pytest.mark.slow
def test_two_shard_processes_outlive_a_server_restart(tmp_path: Path, own_postgres: PostgresServer) -> None:
    """Two real processes share a run through PostgreSQL, each its shard, and the server restarts while both score:
    both finish, every item is scored once, and the run equals an uninterrupted single process's."""
    cases = _cases(tmp_path, 12)
    run_benchmark(load_cases(cases), FakeScorer(), tmp_path / "whole", store=tmp_path / "whole.sqlite")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shards = [
        context.Process(target=_shard, args=(str(cases), own_postgres.url, str(tmp_path / "run"), index, queue))
        for index in range(2)
    ]
    for shard in shards:
        shard.start()
    store = ResultsStore(own_postgres.url)
    deadline = time.monotonic() + 120
    while store.count_scores() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    own_postgres.restart()
    outcomes = sorted(queue.get(timeout=120) for _ in shards)
    for shard in shards:
        shard.join(timeout=60)
    assert [status for status, _ in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[1][1] == 12  # the last to finish exported every item
    assert store.count_scores() == 24
    assert _records(tmp_path / "run") == _records(tmp_path / "whole")


# --- launchers and shards -----------------------------------------------------------------------------------------


def test_a_shard_that_disagrees_with_the_launcher_is_refused(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under torchrun --nproc_per_node 2, --shard 0/2 made both ranks score shard 0 and no one shard 1."""
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    common = ["--limit", "2", "--data-dir", str(data_dir), "--offline", "--store", str(tmp_path / "s.sqlite")]
    line = one_clear_line(invoke("run", "--shard", "0/2", "--out", str(tmp_path / "run"), *common))
    assert "--shard: 0/2: this process is rank 1 of 2 under a launcher (RANK, WORLD_SIZE), whose shard is 1/2" in line
    config = RunConfig(data_dir=data_dir, offline=True, limit=2, out=tmp_path / "run", store=tmp_path / "s.sqlite")
    assert plan_run(replace(config, shard="1/2"), environ=os.environ).shard == (1, 2)  # agreeing is fine
    assert plan_run(config, environ=os.environ).shard == (1, 2)


def test_cuda_under_a_launcher_is_the_local_ranks_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """--device cuda put every rank on GPU 0 (auto gave cuda:LOCAL_RANK). Two GPUs, simulated."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [resolve_device(device, 1) for device in ("cuda", "auto", "cuda:0")] == ["cuda:1", "cuda:1", "cuda:0"]
    assert resolve_device("cuda") == "cuda"  # not launched: as given
    assert resolve_model("transformers", {"device": "cuda"}, local_rank=1).options["device"] == "cuda:1"
    with pytest.raises(BackendError, match="local rank 2 .* has 2 CUDA device"):
        resolve_device("cuda", 2)


def test_a_finished_shard_says_the_others_score_the_rest(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first shard to finish said "partial: 2 of 4 items (resume with the same command)" while its sibling was
    still scoring. Throughput is over the wall clock: shards scoring at once are not added up."""
    monkeypatch.setattr(RunPlan, "load_model", lambda self: _TimedScorer())  # orchestration only
    common = ["--dataset", str(_cases(tmp_path, 4)), "--data-dir", str(data_dir), "--offline"]
    common += ["--out", str(tmp_path / "run"), "--store", str(tmp_path / "s.sqlite")]
    first = invoke("run", "--shard", "0/2", *common)
    assert first.returncode == 0, first.stderr
    said = " ".join(first.stderr.split())
    assert (
        "resume with the same command" not in said
        and (
            "shard 0/2 done: its 2 items are scored; the run holds 2 of 4 items so far, the other 1 shard(s) score the "
            f"rest (progress: brainbench runs {tmp_path / 'run'}); the last shard to finish writes the whole run"
        )
        in said
    )
    last = invoke("run", "--shard", "1/2", *common)
    assert last.returncode == 0 and "partial" not in last.stderr and "done" not in last.stderr, last.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_items"] == 4 and summary["items_per_s"] == pytest.approx(4 / summary["scoring_wall_s"])


def test_the_wall_clock_counts_overlapping_calls_once_and_pauses_not_at_all() -> None:
    """Calls end when their cases are committed (``scored_at``) and took the sum of their ``elapsed_s``: two cases of
    one call ending at 10 s (2 s, from 8 s), a sibling shard's call ending at 11 s (2 s, from 9 s), and a call
    resumed much later (1 s ending at 100 s): 3 s + 1 s of wall clock, where the items' own times add up to 5 s."""
    base = 1_700_000_000

    def at(seconds: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(base + seconds, UTC).isoformat(timespec="milliseconds")

    records = [
        {"scored_at": at(10), "elapsed_s": 1.0},
        {"scored_at": at(10), "elapsed_s": 1.0},
        {"scored_at": at(11), "elapsed_s": 2.0},
        {"scored_at": at(100), "elapsed_s": 1.0},
    ]
    assert scoring_wall_s(records) == pytest.approx(4.0)
    assert scoring_wall_s([*records, {"elapsed_s": 1.0}]) is None  # a record from before scored_at: not known


# --- two runs into one --out --------------------------------------------------------------------------------------


def test_a_different_run_into_a_claimed_out_is_refused_before_its_model_loads(tmp_path: Path, data_dir: Path) -> None:
    """--out was checked before the model load and claimed (run.json) only after it: two runs started together both
    passed the check. A plan claims its directory at once; the same run (a sibling shard) shares it; a run whose
    model did not load gives it back."""
    config = RunConfig(data_dir=data_dir, offline=True, limit=2, out=tmp_path / "run", store=tmp_path / "s.sqlite")
    first = plan_run(config)
    first.claim()
    assert load_run(tmp_path / "run")[0].run_key == first.run_key
    other = ["run", "--seed", "7", "--limit", "2", "--data-dir", str(data_dir), "--offline"]
    line = one_clear_line(invoke(*other, "--out", str(tmp_path / "run"), "--store", str(tmp_path / "s.sqlite")))
    assert "holds another run (its seed differ)" in line
    claimed = (tmp_path / "run" / "run.json").read_bytes()
    plan_run(config).claim()  # the same run (a sibling shard, a resume) shares it, its run.json as it was
    assert (tmp_path / "run" / "run.json").read_bytes() == claimed
    first.release()
    assert not (tmp_path / "run" / "run.json").exists()
    assert plan_run(replace(config, seed=7)).spec.seed == 7


def _start_run(config: RunConfig, together, queue) -> None:
    """What `brainbench run` does up to its model load, in a process of its own: plan (the --out check), then, once
    the sibling has planned too (``together``: both passed the check), claim --out; the winner's run goes on."""
    try:
        plan = plan_run(config)
        together.wait(timeout=120)
        plan.claim()
        time.sleep(0.5)  # the model loads
        summary = execute_run(plan, FakeScorer())
        queue.put((config.seed, "ok", summary["n_items"]))
    except Exception as error:  # reported to the test
        queue.put((config.seed, type(error).__name__, str(error)))


@pytest.mark.slow
def test_two_runs_started_together_into_one_out(tmp_path: Path, data_dir: Path) -> None:
    """Two real processes of different runs (seeds 1 and 2) into one --out, both past the --out check before either
    loads a model (as two runs started together were: both exited 0 and the directory kept one of them): one
    claims the directory and runs, the other is refused at its claim, before its model would load."""
    config = RunConfig(data_dir=data_dir, offline=True, limit=1, out=tmp_path / "run", store=tmp_path / "s.sqlite")
    context = multiprocessing.get_context("spawn")
    queue, together = context.Queue(), context.Barrier(2)
    processes = [
        context.Process(target=_start_run, args=(replace(config, seed=seed), together, queue)) for seed in (1, 2)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(queue.get(timeout=300) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert sorted(status for _, status, _ in outcomes) == ["InputError", "ok"], outcomes
    [(winner, _, n_items)] = [outcome for outcome in outcomes if outcome[1] == "ok"]
    [(_, _, refusal)] = [outcome for outcome in outcomes if outcome[1] == "InputError"]
    assert "holds another run (its seed differ)" in refusal
    info, records = load_run(tmp_path / "run")
    assert (info.seed, len(records), n_items) == (winner, 1, 1)
