"""The command line under mistakes, through the real CLI (a subprocess): one clear line, no traceback, no model
loaded for a bad option; interrupted runs reported partial and finished identically on resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from brainbench.data.files import load_cases
from brainbench.runs import run_benchmark
from brainbench.runs.store import ResultsStore
from tests.commands import (
    EMBEDDED_RUN_ITEMS,
    brainbench,
    embedded_run_args,
    invoke,
    one_clear_line,
    run_records,
    start_embedded_run,
)
from tests.fakes import FakeScorer


@pytest.mark.slow  # three real processes that each import torch
def test_bad_options_are_caught_before_the_model_loads(tmp_path: Path, data_dir: Path) -> None:
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    other_run = tmp_path / "other"
    run_benchmark(load_cases(_cases(tmp_path)), FakeScorer(), other_run, store=tmp_path / "s.sqlite")
    read_only = f"sqlite:///file:{tmp_path / 's.sqlite'}?mode=ro&uri=true"
    common = ["run", "--data-dir", str(data_dir), "--offline", "--out", str(tmp_path / "new")]
    cases = {
        ("--device", "cuda"): "--device cuda: this PyTorch was built without CUDA",
        ("--device", "foo"): "--device 'foo': use auto, cpu, cuda, cuda:N or mps",
        ("--engine", "turbo"): "--engine: 'turbo': choose fast or simple",
        ("--compile", "yes"): "--compile 'yes': choose off, on, auto",
        ("--dtype", "float8"): "--dtype 'float8': choose one of auto, float32, bfloat16, float16",
        ("--items", "5-2"): "--items: '5-2' runs backwards: write 2-5",
        ("--items", ""): "--items: empty",
        ("--limit", "0"): "Invalid value for '--limit'",
        ("--template", "mistral"): "unknown template 'mistral'",
        (
            "--store",
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
        ): "cannot open results store postgresql+psycopg://nobody@127.0.0.1:1/none",
        ("--store", read_only): "attempt to write a readonly database",
        ("--out", str(a_file)): f"--out: {a_file} is a file, not a folder",
        ("--out", str(other_run)): f"--out: {other_run} holds another run",
    }
    import torch

    if torch.cuda.is_available():
        del cases[("--device", "cuda")]  # a machine with CUDA accepts it
    for number, (option, message) in enumerate(cases.items()):
        # in this process; every fifth also as a real process, to show the entry point answers the same
        results = [invoke(*common, *option)] + ([brainbench(*common, *option)] if number % 5 == 0 else [])
        for result in results:
            if option[0] == "--limit":  # typer's own range check: exit 2 and a usage message, no traceback either
                assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
                continue
            assert message in one_clear_line(result), option


def test_validate_suggests_close_names_only(data_dir: Path) -> None:
    assert "Did you mean brainbench-human?" in one_clear_line(
        invoke("validate", "brainbench-humn", "--data-dir", str(data_dir))
    )
    assert "Did you mean" not in one_clear_line(invoke("validate", "xyz", "--data-dir", str(data_dir)))


def test_identical_runs_compare_without_infinities(tmp_path: Path) -> None:
    """Two runs with the same accuracy, three items: the statistics that need more say n/a, with no warnings."""
    cases = load_cases(_cases(tmp_path))
    for name in ("a", "b"):
        run_benchmark(cases, FakeScorer(tag=name), tmp_path / name, store=tmp_path / "s.sqlite")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from numpy or scipy fails the test
        result = invoke("compare", str(tmp_path / "a"), str(tmp_path / "b"))
        assert result.returncode == 0, result.stderr
        assert "inf" not in result.stdout and "n/a" in result.stdout
        report = invoke("report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "r.html"))
        assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    assert not re.search(r"(?<![a-z])-?inf(?![a-z])", html) and "n/a" in html


def _cases(tmp_path: Path) -> Path:
    path = tmp_path / "cases.csv"
    rows = "".join(f'd{i},Systems/Circuits,"Rates [[rose, fell sharply]] in area {i}."\n' for i in range(3))
    path.write_text("doi,journal_section,combined_abstract\n" + rows, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_is_partial_refused_and_resumes(
    tmp_path: Path, data_dir: Path, embedded_run: Path, stop: signal.Signals
) -> None:
    """A real run on the embedded model stopped mid-scoring (Ctrl-C, or kill/timeout), then started again: it
    ends as the session's uninterrupted run of the same command. What follows the stop runs in this process."""
    store, out = tmp_path / "s.sqlite", tmp_path / "run"
    process = start_embedded_run(out, store, data_dir, stored_texts=4)  # the first call's cases committed
    os.kill(process.pid, stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "marked partial" in stderr and "memorisation" not in stderr, stderr

    summary = invoke("summary", str(out))
    assert (
        summary.returncode == 3
        and "partial:" in summary.stderr
        and f"of {EMBEDDED_RUN_ITEMS} items (resume with the same command)" in summary.stderr
    )
    assert json.loads((out / "summary.json").read_text())["partial"] is True
    refused = invoke("compare", str(out), str(out))
    assert "partial" in one_clear_line(refused) and "--allow-partial" in refused.stderr
    assert invoke("report", str(out), "--out", str(tmp_path / "r.html"), "--allow-partial").returncode == 0

    resumed = invoke(*embedded_run_args(data_dir, out, store))
    assert resumed.returncode == 0 and "resuming:" in resumed.stderr
    assert run_records(out) == run_records(embedded_run) and invoke("summary", str(out)).returncode == 0
    listed = json.loads(invoke("runs", "--store", str(store), "--json").stdout)
    assert [(run["out"], run["scored"]) for run in listed] == [(str(out), EMBEDDED_RUN_ITEMS)]


@pytest.mark.slow
def test_torchrun_on_cpu_shares_a_run(tmp_path: Path, data_dir: Path) -> None:
    """Two real processes under torchrun on a machine without CUDA: --device auto is the CPU, each scores its shard."""
    out, store = tmp_path / "run", tmp_path / "s.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "-m",
            "brainbench",
            "run",
            "--limit",
            "6",
            "--data-dir",
            str(data_dir),
            "--offline",
            "--out",
            str(out),
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CUDA" not in result.stderr
    items = [json.loads(line)["item_id"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(items) == [0, 1, 2, 3, 4, 5]  # each item once, from two shards of 3
    assert ResultsStore(store).count_scores() == 12
