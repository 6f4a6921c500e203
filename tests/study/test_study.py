"""The study web app: a whole session in headless Chromium, 50 participants at once, a kill -9 mid-study, bad input."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.data.participants import load_human_trials
from brainbench.study import StudyStore, create_app
from tests.report.test_report import CHROMIUM_ARGS, chromium_path
from tests.servers import free_port, server_process

TOKEN = "admin-test-token"
PROFILE = {"age": "34", "country": "Portugal", "position": "Postdoc", "experience": "6", "sex": "Female"}


@contextmanager
def serving(db: Path | str, data_dir: Path, trials: int = 3, log_path: Path | None = None) -> Iterator[str]:
    """``brainbench study serve`` as a real server process on 127.0.0.1 (``db``: a SQLite file or a URL)."""
    port = free_port()
    command = [sys.executable, "-m", "brainbench", "study", "serve", "--db", str(db), "--port", str(port), "--trials", str(trials), "--data-dir", str(data_dir)]
    url = f"http://127.0.0.1:{port}"
    with server_process(command, f"{url}/healthz", log_path or Path(str(db)).with_suffix(".log"), env={**os.environ, "BRAINBENCH_ADMIN_TOKEN": TOKEN}):
        yield url


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def take_part(url: str, trials: int, answer: int | None = None) -> httpx.Client:
    """One participant through consent, profile and ``answer`` trials (all by default), with plain HTTP."""
    client = httpx.Client(base_url=url, timeout=30)
    csrf = _csrf(client.get("/").text)
    assert client.post("/consent", data={"csrf": csrf, "agree": "yes"}).status_code == 303
    assert client.post("/profile", data={"csrf": csrf, **PROFILE}).status_code == 303
    for _ in range(trials if answer is None else answer):
        page = client.get("/trial").text
        position = re.search(r'name="position" value="(\d+)"', page).group(1)
        item = re.search(r'name="item_id" value="(\d+)"', page).group(1)
        response = client.post("/trial", data={"csrf": csrf, "position": position, "item_id": item, "choice": "B",
                                                "confidence": "80", "expertise": "30", "confidence_touched": "1", "expertise_touched": "1"})
        assert response.status_code == 303, response.text
    return client


def export(url: str, tmp_path: Path) -> pd.DataFrame:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    (tmp_path / "participant_data.csv").write_text(httpx.get(f"{url}/admin/export/participant_data.csv", headers=headers).text)
    (tmp_path / "abstract_id_doi.csv").write_text(httpx.get(f"{url}/admin/export/abstract_id_doi.csv", headers=headers).text)
    return load_human_trials(tmp_path / "participant_data.csv", tmp_path / "abstract_id_doi.csv")


@pytest.mark.slow
def test_a_whole_session_in_chromium(data_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with serving(tmp_path / "study.sqlite", data_dir) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 900})):
                page = browser.new_page(viewport=viewport)
                page.goto(url)
                page.screenshot(path=str(tmp_path / f"consent-{name}.png"), full_page=True)
                page.get_by_label("I have read the above").check()
                page.get_by_role("button", name="Start").click()
                page.get_by_label("Age").fill("41")
                page.get_by_label("Country").fill("Japan")
                page.get_by_label("Current position").select_option("Faculty/Academic staff")
                page.get_by_label("Years of research experience").fill("15")
                page.get_by_label("Gender identity").select_option("Male")
                page.get_by_role("button", name="Continue").click()
                for number in range(3):
                    assert page.get_by_text(f"Trial {number + 1} of 3").first.is_visible()
                    if number == 0:
                        page.screenshot(path=str(tmp_path / f"trial-{name}.png"), full_page=True)
                    page.get_by_label("Abstract A").check()
                    page.get_by_label("How confident are you?").fill("90")  # a slider moved: recorded as touched
                    page.keyboard.press("Tab")
                    page.get_by_label("I recognise this study").check()
                    page.get_by_role("button", name="Finish" if number == 2 else "Next").click()
                assert page.get_by_role("heading", name="Thank you").is_visible()
                page.close()
        finally:
            browser.close()
        trials = export(url, tmp_path)
    assert len(trials) == 6 and trials["participant_id"].nunique() == 2
    raw = pd.read_csv(tmp_path / "participant_data.csv")
    assert list(raw.columns) == ["Unnamed: 0", "pid", "expertise", "confidence", "click_outside", "correct", "rt", "abstract_id",
                                 "journal_section", "click_slider", "recognised", "age", "country", "current position", "experience", "sex"]
    assert set(raw["confidence"]) == {90} and set(raw["expertise"]) == {50} and set(raw["click_slider"]) == {0}  # expertise untouched
    assert set(raw["recognised"]) == {1} and set(raw["country"]) == {"Japan"} and (raw["rt"] > 0).all()
    assert all((tmp_path / f"{page}-{size}.png").stat().st_size > 5000 for page in ("consent", "trial") for size in ("phone", "desktop"))
    result = CliRunner().invoke(app, ["humans", "--participants", str(tmp_path / "participant_data.csv"),
                                      "--abstract-ids", str(tmp_path / "abstract_id_doi.csv"), "--json"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fifty_participants_at_once_then_kill_and_restart(data_dir: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    db = tmp_path / "study.sqlite" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    log = tmp_path / "server.log"
    with serving(db, data_dir, log_path=log) as url:
        with ThreadPoolExecutor(max_workers=50) as pool:
            clients = list(pool.map(lambda _: take_part(url, 3), range(50)))
        trials = export(url, tmp_path)
        assert len(trials) == 150 and trials.groupby("participant_id").size().eq(3).all()
        assert not trials.duplicated(["participant_id", "abstract_id"]).any()
        assert trials.groupby("abstract_id").size().max() == 1  # 150 trials over 200 items: balanced, none twice
        # ten more participants get halfway, then the server is killed
        halfway = [take_part(url, 3, answer=1) for _ in range(10)]
        server_pids = [int(pid) for pid in subprocess.run(["pgrep", "-f", f"study serve --db {db}"], capture_output=True, text=True).stdout.split()]
        for pid in server_pids:
            os.kill(pid, signal.SIGKILL)
    with serving(db, data_dir, log_path=log) as url:
        assert len(export(url, tmp_path)) == 160  # everything committed survived
        for client in halfway:  # their cookies still work: they resume at trial 2
            client.base_url = httpx.URL(url)
            csrf = client.cookies.get("bb_csrf")
            page = client.get("/trial").text
            assert "Trial 2 of 3" in page
            for _ in range(2):
                position = re.search(r'name="position" value="(\d+)"', page).group(1)
                item = re.search(r'name="item_id" value="(\d+)"', page).group(1)
                client.post("/trial", data={"csrf": csrf, "position": position, "item_id": item, "choice": "A", "confidence": "10", "expertise": "10"})
                page = client.get("/trial", follow_redirects=True).text
        assert len(export(url, tmp_path)) == 180
    for client in clients + halfway:
        client.close()


@pytest.fixture()
def local(data_dir: Path, tmp_path: Path) -> tuple[TestClient, str]:
    store = StudyStore(tmp_path / "study.sqlite", load_dataset("brainbench-human", data_dir=data_dir, offline=True), trials_per_participant=2, seed=0)
    client = TestClient(create_app(store, TOKEN), follow_redirects=False)
    csrf = _csrf(client.get("/").text)
    client.post("/consent", data={"csrf": csrf, "agree": "yes"})
    return client, csrf


def test_bad_input_is_refused(local: tuple[TestClient, str]) -> None:
    client, csrf = local
    assert client.post("/profile", data={"csrf": csrf, **PROFILE, "position": "Wizard"}).status_code == 422
    assert client.post("/profile", data={"csrf": csrf, **PROFILE, "age": "7"}).status_code == 422
    assert client.post("/profile", data={"csrf": "forged", **PROFILE}).status_code == 403
    assert client.post("/profile", data={"csrf": csrf, **PROFILE}).status_code == 303
    page = client.get("/trial").text
    position = re.search(r'name="position" value="(\d+)"', page).group(1)
    item = int(re.search(r'name="item_id" value="(\d+)"', page).group(1))
    answer = {"csrf": csrf, "position": position, "item_id": str(item), "choice": "A", "confidence": "50", "expertise": "50"}
    assert client.post("/trial", data={**answer, "confidence": "150"}).status_code == 422  # out-of-range slider
    assert client.post("/trial", data={**answer, "expertise": "-1"}).status_code == 422
    assert client.post("/trial", data={**answer, "choice": "C"}).status_code == 422
    assert client.post("/trial", data={**answer, "item_id": str((item + 1) % 200)}).status_code == 400  # forged item
    assert client.post("/trial", data={**answer, "position": "1"}).status_code == 400  # not shown yet
    assert client.post("/trial", data=answer).status_code == 303
    assert client.post("/trial", data=answer).status_code == 409  # replayed
    for path in ("/admin/export/participant_data.csv", "/admin/export/abstract_id_doi.csv"):
        assert client.get(path).status_code == 401  # no token
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/admin/setup", data={"csrf": csrf, "trials": "5"}).status_code == 401
    assert client.post("/admin/login", data={"csrf": csrf, "token": "wrong"}).status_code == 401
    assert client.post("/admin/login", data={"csrf": csrf, "token": TOKEN}).status_code == 303
    assert "1 (0 finished)" in client.get("/admin").text
    stranger = TestClient(client.app, follow_redirects=False)
    assert stranger.get("/trial").status_code == 401  # no session: nobody else's trials


def test_assignment_is_balanced_and_mixes_subfields(data_dir: Path, tmp_path: Path) -> None:
    dataset = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    store = StudyStore(tmp_path / "study.sqlite", dataset, trials_per_participant=9, seed=3)
    for _ in range(30):
        store.add_participant()
    with store.engine.begin() as connection:
        rows = connection.exec_driver_sql("SELECT participant_id, item_id FROM assignments").all()
    counts = pd.Series([item for _, item in rows]).value_counts().reindex(range(200), fill_value=0)
    assert counts.max() - counts.min() <= 1  # 270 trials over 200 items: every item once or twice
    subfields = pd.DataFrame(rows, columns=["participant", "item"]).assign(subfield=lambda f: [dataset.cases[i].subfield for i in f["item"]])
    assert subfields.groupby("participant")["subfield"].nunique().min() == 5  # all five subfields in every 9 trials


def test_catch_trials_are_served_and_exported_apart(data_dir: Path, tmp_path: Path) -> None:
    obvious = tmp_path / "catch.jsonl"
    obvious.write_text('{"doi": "catch-1", "journal_section": "Catch", "combined_abstract": "Mice need [[oxygen, no oxygen]] to live."}\n')
    store = StudyStore(tmp_path / "study.sqlite", load_dataset("brainbench-human", data_dir=data_dir, offline=True),
                       trials_per_participant=2, seed=0, catch=load_dataset(obvious, texts="reparsed"))
    client = TestClient(create_app(store, TOKEN), follow_redirects=False)
    csrf = _csrf(client.get("/").text)
    client.post("/consent", data={"csrf": csrf, "agree": "yes"})
    client.post("/profile", data={"csrf": csrf, **PROFILE})
    seen_catch = False
    for number in range(3):
        page = client.get("/trial").text
        assert f"Trial {number + 1} of 3" in page
        seen_catch |= "Mice need oxygen to live." in page
        position = re.search(r'name="position" value="(\d+)"', page).group(1)
        item = re.search(r'name="item_id" value="(-?\d+)"', page).group(1)
        assert client.post("/trial", data={"csrf": csrf, "position": position, "item_id": item, "choice": "A", "confidence": "5", "expertise": "5"}).status_code == 303
    assert seen_catch and client.get("/trial").headers["location"] == "/done"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert len(client.get("/admin/export/participant_data.csv", headers=auth).text.splitlines()) == 1 + 2  # the catch trial is not a test item
    assert client.get("/admin/export/catch.csv", headers=auth).text.splitlines()[1].startswith("1,catch-1,")
