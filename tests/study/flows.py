"""A participant's and an admin's way through the study app over plain HTTP (a TestClient or httpx),
and the real server process, shared by the study tests."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import uvicorn

from tests.servers import free_port, server_process

TOKEN = "admin-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROFILE = {"age": "34", "country": "Portugal", "position": "Postdoc", "experience": "6", "sex": "Female"}


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen


@contextmanager
def serving(
    db: Path | str, data_dir: Path, log_path: Path, trials: int = 3, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``brainbench study serve`` as a real server process on 127.0.0.1 (``db``: a SQLite file or a URL)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "brainbench",
        "study",
        "serve",
        "--db",
        str(db),
        "--port",
        str(port),
        "--trials",
        str(trials),
        "--data-dir",
        str(data_dir),
        *extra,
    ]
    url = f"http://127.0.0.1:{port}"
    with server_process(
        command, f"{url}/healthz", log_path, env={**os.environ, "BRAINBENCH_ADMIN_TOKEN": TOKEN}
    ) as process:
        yield Server(url, process)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="(-?\d+)"', html).group(1)


def consent(client: httpx.Client) -> str:
    """Consent; returns the CSRF token of the participant's session (the profile page's)."""
    csrf = csrf_of(client.get("/").text)  # bound to the browser's anonymous session
    assert client.post("/consent", data={"csrf": csrf, "agree": "yes"}).status_code == 303
    return csrf_of(client.get("/profile").text)  # bound to the participant's session from now on


def start(client: httpx.Client, **profile: str) -> str:
    """Consent and profile; returns the CSRF token of the participant's session."""
    csrf = consent(client)
    response = client.post("/profile", data={"csrf": csrf, **PROFILE, **profile})
    assert response.status_code == 303, response.text
    return csrf


def answer(client: httpx.Client, csrf: str | None = None, **fields: str) -> httpx.Response:
    """Show the current trial and answer it (A, sliders moved, unless ``fields`` say otherwise; the page's own
    CSRF token unless ``csrf`` is given)."""
    page = client.get("/trial").text
    return client.post(
        "/trial",
        data={
            "csrf": csrf or csrf_of(page),
            "position": hidden(page, "position"),
            "item_id": hidden(page, "item_id"),
            "choice": "A",
            "confidence": "80",
            "expertise": "30",
            "confidence_touched": "1",
            "expertise_touched": "1",
            **fields,
        },
    )


@contextmanager
def live(app: object) -> Iterator[str]:
    """``app`` on a real uvicorn server on 127.0.0.1 in a thread of this process (no start-up of a new process):
    its URL, then stopped."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        thread.join(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def take_part(url: str, trials: int, answered: int | None = None) -> httpx.Client:
    """One participant through consent, profile and ``answered`` trials (all by default), over HTTP."""
    client = httpx.Client(base_url=url, timeout=60)
    csrf = start(client)
    for _ in range(trials if answered is None else answered):
        response = answer(client, csrf)
        assert response.status_code == 303, response.text
    return client


def participant_data(client: httpx.Client) -> pd.DataFrame:
    """The export as the paper's readers see it (an empty country stays text)."""
    response = client.get("/admin/export/participant_data.csv", headers=AUTH)
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text), keep_default_na=False)


def export_files(url: str, tmp_path: Path) -> tuple[Path, Path]:
    """participant_data.csv and abstract_id_doi.csv from a running server, written to ``tmp_path``."""
    paths = []
    for name in ("participant_data.csv", "abstract_id_doi.csv"):
        response = httpx.get(f"{url}/admin/export/{name}", headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        (tmp_path / name).write_text(response.text, encoding="utf-8")
        paths.append(tmp_path / name)
    return paths[0], paths[1]
