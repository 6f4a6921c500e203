"""The study web app as participants and the admin use it: whole sessions in headless Chromium, the
admin's way on SQLite and PostgreSQL, 50 participants at once and a kill -9 mid-study, bad input."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import Dataset, load_dataset
from brainbench.data.participants import load_human_trials
from brainbench.study import StudyStore, create_app
from brainbench.study.export import EXPORT_COLUMNS
from tests.study.flows import (
    AUTH,
    PROFILE,
    TOKEN,
    Server,
    answer,
    consent,
    csrf_of,
    export_files,
    hidden,
    live,
    serving,
    start,
    take_part,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def _wait_for_leave(db: Path) -> None:
    """Until the page's beacon has ended the first view (sent as the page is left; it arrives a moment later)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as connection:
            if connection.execute("SELECT count(*) FROM views WHERE ended_at IS NOT NULL").fetchone()[0]:
                return
        time.sleep(0.1)
    pytest.fail("the trial page's leave beacon never arrived")


@pytest.mark.slow
def test_a_whole_session_in_chromium(data_dir: Path, tmp_path: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    db = tmp_path / "study.sqlite"
    blocked: list[str] = []
    missing: list[str] = []
    with serving(db, data_dir, tmp_path / "server.log") as server:
        for name, viewport in (
            ("phone", {"width": 390, "height": 844}),
            ("desktop", {"width": 1280, "height": 900}),
        ):
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            page.on(
                "console",
                lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
            )
            page.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)
            page.goto(server.url)
            expect(page.get_by_role("heading", name="Information and consent")).to_be_visible()
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
                expect(page.get_by_text(f"Trial {number + 1} of 3").first).to_be_visible()
                if (
                    number == 0 and name == "desktop"
                ):  # leave the page, stay away, come back: the time away is not reaction time
                    page.goto("about:blank")
                    _wait_for_leave(db)
                    time.sleep(1.5)
                    page.goto(f"{server.url}/trial")
                    expect(page.get_by_text("Trial 1 of 3").first).to_be_visible()
                if number == 0:
                    page.screenshot(path=str(tmp_path / f"trial-{name}.png"), full_page=True)
                    _check_layout(page, phone=name == "phone")
                page.get_by_label("Abstract A", exact=True).check()
                confidence = page.get_by_label("How confident are you?")
                for slider in ("confidence", "expertise"):  # an untouched slider shows no answer, not "50"
                    expect(page.locator(f"#{slider}-value")).to_have_text("not answered yet")
                    expect(page.locator(f"#{slider}")).to_have_attribute("aria-valuetext", "not answered yet")
                confidence.focus()
                page.keyboard.press("ArrowRight")  # the number follows the slider, keyboard too
                expect(page.locator("#confidence-value")).to_have_text("51 of 100")
                confidence.fill("90")
                expect(page.locator("#confidence-value")).to_have_text("90 of 100")
                expect(confidence).to_have_attribute("aria-valuetext", "90 of 100")
                expect(page.locator("#expertise-value")).to_have_text("not answered yet")
                page.get_by_label("I recognise this study").check()
                page.get_by_role("button", name="Finish" if number == 2 else "Next").click()
            expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
            context.close()
        participants, abstract_ids = export_files(server.url, tmp_path)
    assert not blocked, blocked  # the pages' own script and style run under the Content-Security-Policy
    assert not missing, missing  # the favicon too: no request is answered 404
    trials = load_human_trials(participants, abstract_ids)
    assert len(trials) == 6 and trials["participant_id"].nunique() == 2
    raw = pd.read_csv(participants, keep_default_na=False)
    assert list(raw.columns) == ["Unnamed: 0", *EXPORT_COLUMNS[1:]]
    assert (
        set(raw["confidence"]) == {90} and set(raw["expertise"]) == {50} and set(raw["click_slider"]) == {0}
    )  # expertise untouched
    assert set(raw["recognised"]) == {1} and set(raw["country"]) == {"Japan"} and (raw["rt"] > 0).all()
    assert list(raw["layout"]) == ["differences"] * 3 + ["side-by-side"] * 3  # phone first, then desktop
    resumed = raw[raw["resumed"] == 1]
    assert (
        len(resumed) == 1 and int(resumed["trial"].iloc[0]) == 1 and (resumed["rt_total"] - resumed["rt"] >= 1500).all()
    )
    assert (raw.loc[raw["resumed"] == 0, "rt"] == raw.loc[raw["resumed"] == 0, "rt_total"]).all()
    assert all(
        (tmp_path / f"{page}-{size}.png").stat().st_size > 5000
        for page in ("consent", "trial")
        for size in ("phone", "desktop")
    )
    result = CliRunner().invoke(
        app, ["humans", "--participants", str(participants), "--abstract-ids", str(abstract_ids), "--json"]
    )
    assert result.exit_code == 0, result.stderr


def _check_layout(page: Page, phone: bool) -> None:
    """On a phone the sentences that differ are shown as A/B pairs, one just below the other, the full
    abstracts folded; on a desktop the two full abstracts stand side by side, as in the paper."""
    from playwright.sync_api import expect

    differences = page.get_by_label("Where the two versions differ")
    full_a, full_b = page.locator("#text-A"), page.locator("#text-B")
    if not phone:
        expect(differences).to_be_hidden()
        expect(full_a).to_be_visible()
        expect(full_b).to_be_visible()
        assert abs(full_a.bounding_box()["y"] - full_b.bounding_box()["y"]) < 5  # side by side
        return
    expect(differences).to_be_visible()
    expect(full_a).to_be_hidden()  # a tap on "Abstract A in full" opens it
    pair = differences.locator(".pair").first
    a_box, b_box = (
        pair.locator(":scope > div").nth(0).bounding_box(),
        pair.locator(":scope > div").nth(1).bounding_box(),
    )
    # B's wording right below A's, sentence by sentence (B's abstract began 1,830 px below A's on this screen)
    assert 0 <= b_box["y"] - (a_box["y"] + a_box["height"]) < 20 and b_box["y"] - a_box["y"] < 700, (a_box, b_box)
    expect(pair.locator("mark").first).to_be_visible()  # the differing words marked, the same way in A and B
    assert pair.locator(":scope > div").nth(0).locator("mark").count() >= 1
    assert pair.locator(":scope > div").nth(1).locator("mark").count() >= 1
    page.get_by_text("Abstract B in full").click()
    expect(full_b).to_be_visible()


@pytest.mark.slow
@pytest.mark.parametrize("study_db", ["sqlite", "postgresql"], indirect=True)
def test_the_admin_in_chromium(human: Dataset, tmp_path: Path, study_db: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    store = StudyStore(study_db, human, trials_per_participant=2)
    with live(create_app(store, TOKEN)) as url:
        server = Server(url, None)  # type: ignore[arg-type]
        take_part(server.url, 2).close()
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/admin")
        page.get_by_label("Admin token").fill("not the token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("wrong token")
        page.goto(f"{server.url}/admin")
        expect(page.get_by_label("Admin token")).to_be_visible()
        time.sleep(1.1)  # the wait after one wrong token
        page.get_by_label("Admin token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("cell", name="1 (1 finished)")).to_be_visible()
        expect(page.get_by_role("cell", name="198 items with 0 responses; 2 items with 1 response")).to_be_visible()
        page.get_by_label("Trials per new participant").fill("3")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_label("Trials per new participant")).to_have_value("3")
        expect(page.get_by_role("cell", name="1 (1 finished)")).to_be_visible()  # finished against their own 2 trials
        with page.expect_download() as download:
            page.get_by_role("link", name="Export participant_data.csv").click()
        download.value.save_as(tmp_path / "participant_data.csv")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("Admin token")).to_be_visible()
        context.close()
        third = take_part(server.url, 3)
        assert "Trial" not in third.get("/trial", follow_redirects=True).text  # three trials now, all done
        third.close()
    exported = pd.read_csv(tmp_path / "participant_data.csv", keep_default_na=False)
    assert len(exported) == 2 and set(exported["country"]) == {"Portugal"}


@pytest.mark.slow
@pytest.mark.parametrize("study_db", ["sqlite", "postgresql"], indirect=True)
def test_fifty_participants_at_once_then_kill_and_restart(data_dir: Path, tmp_path: Path, study_db: str) -> None:
    db = study_db
    log = tmp_path / "server.log"
    with serving(db, data_dir, log) as server:
        with ThreadPoolExecutor(max_workers=50) as pool:
            clients = list(pool.map(lambda _: take_part(server.url, 3), range(50)))
        trials = load_human_trials(*export_files(server.url, tmp_path))
        assert len(trials) == 150 and trials.groupby("participant_id").size().eq(3).all()
        assert not trials.duplicated(["participant_id", "abstract_id"]).any()
        assert trials.groupby("abstract_id").size().max() == 1  # 150 trials over 200 items: balanced, none twice
        # ten more participants get halfway, then the server is killed
        halfway = [take_part(server.url, 3, answered=1) for _ in range(10)]
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
    with serving(db, data_dir, log) as server:
        assert len(load_human_trials(*export_files(server.url, tmp_path))) == 160  # everything committed survived
        for client in halfway:  # their cookies and CSRF tokens still work: they resume at trial 2
            client.base_url = httpx.URL(server.url)
            assert "Trial 2 of 3" in client.get("/trial").text
            for _ in range(2):
                assert answer(client).status_code == 303  # the page's CSRF token, as before the kill
        assert len(load_human_trials(*export_files(server.url, tmp_path))) == 180
    for client in clients + halfway:
        client.close()


def test_bad_input_is_refused(client: TestClient) -> None:
    anonymous = csrf_of(client.get("/").text)
    csrf = consent(client)
    assert client.post("/profile", data={"csrf": csrf, **PROFILE, "position": "Wizard"}).status_code == 422
    assert client.post("/profile", data={"csrf": csrf, **PROFILE, "age": "7"}).status_code == 422
    assert client.post("/profile", data={"csrf": "forged", **PROFILE}).status_code == 403
    assert client.post("/profile", data={"csrf": csrf, **PROFILE}).status_code == 303
    page = client.get("/trial").text
    position, item = hidden(page, "position"), int(hidden(page, "item_id"))
    fields = {
        "csrf": csrf,
        "position": position,
        "item_id": str(item),
        "choice": "A",
        "confidence": "50",
        "expertise": "50",
    }
    assert client.post("/trial", data={**fields, "confidence": "150"}).status_code == 422  # out-of-range slider
    assert client.post("/trial", data={**fields, "expertise": "-1"}).status_code == 422
    assert client.post("/trial", data={**fields, "choice": "C"}).status_code == 422
    assert client.post("/trial", data={**fields, "item_id": str((item + 1) % 200)}).status_code == 400  # forged item
    assert client.post("/trial", data={**fields, "position": "1"}).status_code == 400  # not shown yet
    assert client.post("/trial", data=fields).status_code == 303
    assert client.post("/trial", data=fields).status_code == 409  # replayed
    for path in ("/admin/export/participant_data.csv", "/admin/export/abstract_id_doi.csv", "/admin/export/catch.csv"):
        assert client.get(path).status_code == 401  # no token
    assert client.post("/admin/setup", data={"csrf": csrf, "trials": "5"}).status_code == 401
    assert client.post("/admin/login", data={"csrf": csrf, "token": TOKEN}).status_code == 403  # the participant's form
    assert client.post("/admin/login", data={"csrf": anonymous, "token": TOKEN}).status_code == 303
    admin_csrf = csrf_of(client.get("/admin").text)
    assert client.post("/admin/setup", data={"csrf": csrf, "trials": "5"}).status_code == 403  # not the admin's form
    assert (
        client.post("/admin/setup", data={"csrf": admin_csrf, "trials": "500"}).status_code == 422
    )  # more than the 200 items
    assert "1 (0 finished)" in client.get("/admin").text
    stranger = TestClient(client.app, follow_redirects=False)
    assert stranger.get("/trial").status_code == 401  # no session: nobody else's trials


def test_catch_trials_are_served_and_exported_apart(human: Dataset, tmp_path: Path) -> None:
    obvious = tmp_path / "catch.jsonl"
    obvious.write_text(
        '{"doi": "catch-1", "journal_section": "Catch", "combined_abstract": "Mice need [[oxygen, no oxygen]] to '
        'live."}\n'
    )
    store = StudyStore(
        tmp_path / "study.sqlite",
        human,
        trials_per_participant=2,
        seed=0,
        catch=load_dataset(obvious, texts="reparsed"),
    )
    client = TestClient(create_app(store, TOKEN), follow_redirects=False)
    csrf = start(client)
    seen_catch = False
    for number in range(3):
        page = client.get("/trial").text
        assert f"Trial {number + 1} of 3" in page
        seen_catch |= "Mice need oxygen to live." in page
        assert (
            client.post(
                "/trial",
                data={
                    "csrf": csrf,
                    "position": hidden(page, "position"),
                    "item_id": hidden(page, "item_id"),
                    "choice": "A",
                    "confidence": "5",
                    "expertise": "5",
                },
            ).status_code
            == 303
        )
    assert seen_catch and client.get("/trial").headers["location"] == "/done"
    assert (
        len(client.get("/admin/export/participant_data.csv", headers=AUTH).text.splitlines()) == 1 + 2
    )  # the catch trial is not a test item
    assert client.get("/admin/export/catch.csv", headers=AUTH).text.splitlines()[1].startswith("1,catch-1,")
