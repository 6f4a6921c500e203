"""Running brainbench's commands in tests: in this process (typer's runner) or as a real process, and the
embedded model's reference run that several tests start and compare with."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from brainbench.runs.store import ResultsStore

TIMINGS = ("elapsed_s", "scored_at")  # what differs between two runs of the same texts
EMBEDDED_RUN_ITEMS = 12  # two calls of the CPU scorer (8 cases per call on two workers): enough to stop one mid-way


def brainbench(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "brainbench", *args], capture_output=True, text=True, timeout=600, **options
    )


def invoke(*args: str) -> subprocess.CompletedProcess:
    """The CLI in this process (typer's runner), answering like a subprocess."""
    from typer.testing import CliRunner

    from brainbench.cli import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    """The one error line of a failed command (no traceback, nothing loaded)."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and "loading model" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def embedded_run_args(data_dir: Path, out: Path, store: Path) -> list[str]:
    """``brainbench run`` on the embedded model's defaults, over the first ``EMBEDDED_RUN_ITEMS`` items."""
    return [
        "run",
        "--limit",
        str(EMBEDDED_RUN_ITEMS),
        "--data-dir",
        str(data_dir),
        "--offline",
        "--out",
        str(out),
        "--store",
        str(store),
    ]


def start_embedded_run(out: Path, store: Path, data_dir: Path, stored_texts: int) -> subprocess.Popen:
    """A real ``brainbench run`` process on the embedded model (the session's ``embedded_run`` command), returned
    once ``stored_texts`` texts are committed: mid-way, since 12 cases take two calls of 8 cases on CPU."""
    process = subprocess.Popen(
        [sys.executable, "-m", "brainbench", *embedded_run_args(data_dir, out, store)],
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even where this suite was started in the background (which ignores SIGINT)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists() and ResultsStore(store).count_scores() >= stored_texts:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before it could be stopped"
    return process


def run_records(run_dir: Path) -> list[dict]:
    """A run directory's records without their timings (``TIMINGS``: they differ between runs of the same texts)."""
    return [
        {key: value for key, value in json.loads(line).items() if key not in TIMINGS}
        for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
