"""Real servers for tests: a free port on 127.0.0.1, and a server process that is up before the test goes on."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def http_server(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 from a thread of this process; yields ``http://127.0.0.1:PORT``. The server
    looks for its stop signal every 20 ms (the standard library's 0.5 s made each test wait that long)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def server_process(
    command: Sequence[str], ready_url: str, log_path: Path, env: dict[str, str] | None = None, timeout_s: float = 120
) -> Iterator[subprocess.Popen]:
    """Start ``command`` (output to ``log_path``: a full pipe would block it), wait until ``ready_url``
    answers 200, yield the process, and stop it afterwards."""
    with open(log_path, "a") as log:
        # the child keeps its own copy of the log file open
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


@contextmanager
def serving(model: Path, log_dir: Path) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with ``model`` on 127.0.0.1: its base URL, then shut down."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--logits_all",
        "true",
        "--n_ctx",
        "2048",
    ]
    base_url = f"http://127.0.0.1:{port}/v1"
    with server_process(command, f"{base_url}/models", log_dir / "server.log") as server:
        yield base_url
    assert server.returncode is not None  # shut down


def postgres_binaries() -> Path | None:
    """Where initdb and pg_ctl are (Debian's postgresql package keeps them off PATH)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (user ``brainbench``, trusted) that a test can stop, start
    and restart: ``url`` stays the same throughout."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.data = Path(tempfile.mkdtemp(prefix="brainbench-pg-"))  # in /tmp: the server's user must reach it
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.data, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.url = f"postgresql+psycopg://brainbench@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [*self.as_user, str(binaries / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "brainbench"],
            check=True,
            capture_output=True,
        )
        self.start()

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.data), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-o", options, "-w", "-l", str(self.data / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: connections are closed and the server stops; ``immediate``: as a crash."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.data, ignore_errors=True)
