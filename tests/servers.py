"""Real servers for tests: a free port on 127.0.0.1, and a server process that is up before the test goes on."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_process(command: Sequence[str], ready_url: str, log_path: Path, env: dict[str, str] | None = None,
                   timeout_s: float = 120) -> Iterator[subprocess.Popen]:
    """Start ``command`` (output to ``log_path``: a full pipe would block it), wait until ``ready_url``
    answers 200, yield the process, and stop it afterwards."""
    log = open(log_path, "a")
    process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command[2] if len(command) > 2 else command[0]} exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{ready_url} did not answer within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        log.close()
