"""The authoring page: sign-in with reviewers' own tokens, review decisions kept and shown, subfields chosen,
oversized forms, headers, and the whole way in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from brainbench.authoring import ReviewQueue
from brainbench.authoring.app import create_app
from brainbench.web import LoginThrottle
from tests.authoring.test_authoring import ABSTRACT, GOOD
from tests.servers import free_port, server_process
from tests.study.flows import live

if TYPE_CHECKING:
    from playwright.sync_api import Browser

SUBFIELDS = ["Behavioral/Cognitive", "Systems/Circuits"]
CANDIDATES = [{"doi": "10.1/x", "journal": "J", "subfield": "", "text": ABSTRACT}]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(queue: ReviewQueue, name: str = "Ana", **options: Any) -> tuple[TestClient, str]:
    """A browser signed in as reviewer ``name`` (their token made now) and the CSRF token of their session."""
    token = queue.add_reviewer(name)
    client = TestClient(create_app(queue, CANDIDATES, subfields=SUBFIELDS, **options), follow_redirects=False)
    csrf = csrf_of(client.get("/").text)
    response = client.post("/login", data={"csrf": csrf, "token": token})
    assert response.status_code == 303, response.text
    return client, csrf_of(client.get("/").text)


def test_pages_need_a_reviewers_token(tmp_path: Path) -> None:
    now = [0.0]
    queue = ReviewQueue(tmp_path / "q.sqlite")
    token = queue.add_reviewer("Ana")
    client = TestClient(
        create_app(queue, [], throttle=LoginThrottle(clock=lambda: now[0])),
        follow_redirects=False,
    )
    assert client.get("/").status_code == 401 and client.get("/write/0").status_code == 401
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    csrf = csrf_of(client.get("/").text)
    now[0] += 1
    assert client.post("/login", data={"csrf": csrf, "token": "é"}).status_code == 401  # compared as bytes: no 500
    assert (
        client.post("/login", data={"csrf": csrf, "token": token}).status_code == 429
    )  # wait a second after a wrong one
    now[0] += 1
    assert client.post("/login", data={"csrf": csrf, "token": token}).status_code == 303
    assert "Signed in as Ana." in client.get("/").text


def test_review_decisions_are_kept_and_shown(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.sqlite")
    ana, csrf = signed_in(queue, "Ana")
    assert ana.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"}).status_code == 303
    ben, ben_csrf = signed_in(queue, "Ben")
    assert (
        ben.post("/review/1", data={"csrf": ben_csrf, "decision": "accepted", "expected": "proposed"}).status_code
        == 303
    )
    assert (
        ben.post("/review/1", data={"csrf": ben_csrf, "decision": "rejected"}).status_code == 422
    )  # a plain POST: which state was seen?
    stale = ben.post("/review/1", data={"csrf": ben_csrf, "decision": "rejected", "expected": "proposed", "note": "x"})
    assert stale.status_code == 409 and "someone decided it meanwhile" in stale.text
    unexplained = ben.post("/review/1", data={"csrf": ben_csrf, "decision": "rejected", "expected": "accepted"})
    assert unexplained.status_code == 409 and "changing a decision needs a note" in unexplained.text
    assert (
        ben.post(
            "/review/1",
            data={"csrf": ben_csrf, "decision": "rejected", "expected": "accepted", "note": "result in the title"},
        ).status_code
        == 303
    )
    assert (
        ben.post("/review/9", data={"csrf": ben_csrf, "decision": "rejected", "expected": "proposed"}).status_code
        == 404
    )
    [item] = queue.items()
    assert item["provenance"] == {"author": "human", "by": "Ana"} and item["status"] == "rejected"
    assert [(d["reviewer"], d["from_status"], d["to_status"], d["note"]) for d in item["history"]] == [
        ("Ben", "proposed", "accepted", None),
        ("Ben", "accepted", "rejected", "result in the title"),
    ]
    page = ben.get("/").text
    assert (
        "<td>Ben</td>\n<td>proposed → accepted</td>" in page
        and "<td>Ben</td>\n<td>accepted → rejected</td><td>result in the title</td>" in page
    )
    assert "written by Ana" in page and "Note on #1 (needed to change a decision)" in page


def test_the_subfield_is_chosen_from_the_list_or_written_as_new(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.sqlite")
    client, csrf = signed_in(queue)
    form = client.get("/write/0").text
    assert all(f"<option>{name}</option>" in form for name in SUBFIELDS)
    for fields, problem in (
        ({"subfield": ""}, "choose a subfield from the list"),
        ({"subfield": "  "}, "choose a subfield from the list"),
        ({"subfield": "__new", "new_subfield": " "}, "choose a subfield from the list"),
        ({"subfield": "Made Up"}, "is not one of the subfields"),
        ({"subfield": "__new", "new_subfield": "=HYPERLINK(0)"}, "cannot start with = + - or @"),
    ):
        response = client.post("/write/0", data={"csrf": csrf, "altered": GOOD, **fields})
        assert response.status_code == 422 and problem in response.text and GOOD in response.text  # the text is kept
    assert (
        client.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"}).status_code == 303
    )
    assert (
        client.post(
            "/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "__new", "new_subfield": " Sleep "}
        ).status_code
        == 303
    )
    assert [item["subfield"] for item in queue.items()] == ["Systems/Circuits", "Sleep"]
    assert "<option>Sleep</option>" in client.get("/write/0").text  # offered from then on


def test_an_oversized_alteration_is_refused_before_any_check(tmp_path: Path) -> None:
    client, csrf = signed_in(ReviewQueue(tmp_path / "q.sqlite"))
    response = client.post(
        "/write/0", data={"csrf": csrf, "altered": "word " * 200_000, "subfield": "Systems/Circuits"}
    )
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "altered: String should have at most 20000 characters" in response.text


def test_every_response_has_the_security_headers(tmp_path: Path) -> None:
    client, csrf = signed_in(ReviewQueue(tmp_path / "q.sqlite"))
    stranger = TestClient(client.app, follow_redirects=False)
    responses = [
        client.get("/"),
        client.get("/write/0"),
        client.get("/write/5"),
        client.post("/write/0", data={"csrf": csrf}),
        client.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"}),
        stranger.get("/"),
        stranger.post("/login", data={"csrf": "forged", "name": "x", "token": "x"}),
    ]
    assert {response.status_code for response in responses} == {200, 303, 401, 403, 404, 422}
    for response in responses:
        assert (
            "frame-ancestors 'none'" in response.headers["content-security-policy"]
            and response.headers["x-content-type-options"] == "nosniff"
        )
        assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, ReviewQueue]]:
    """The authoring app on a real server on 127.0.0.1."""
    queue = ReviewQueue(tmp_path / "review.sqlite")
    with live(create_app(queue, CANDIDATES, subfields=SUBFIELDS)) as url:
        assert httpx.get(url).status_code == 401
        yield url, queue


@pytest.mark.slow
def test_the_authoring_page_in_chromium(served: tuple[str, ReviewQueue], tmp_path: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    url, queue = served
    tokens = {name: queue.add_reviewer(name) for name in ("Ana", "Ben")}
    ana, ben = browser.new_context(), browser.new_context()
    page = ana.new_page()
    page.goto(url)
    page.get_by_label("Your reviewer token").fill(tokens["Ana"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as Ana.")).to_be_visible()
    page.get_by_role("link", name="Write an alteration").click()
    page.get_by_label("Subfield", exact=True).select_option("Systems/Circuits")
    page.get_by_label("Altered abstract").fill(ABSTRACT.replace("We recorded", "We imaged"))  # methods: refused
    page.get_by_role("button", name="Save for review").click()
    expect(page.get_by_role("alert")).to_contain_text("background or methods")
    expect(page.get_by_label("Subfield", exact=True)).to_have_value("Systems/Circuits")  # kept
    page.get_by_label("Altered abstract").fill(GOOD.replace("decreased", "decreased\u200b"))  # an invisible character
    page.get_by_role("button", name="Save for review").click()
    expect(page.get_by_role("alert")).to_contain_text("U+200B ZERO WIDTH SPACE")
    page.get_by_label("Altered abstract").fill(GOOD.replace("decreased after", "decreased by 5 µm after"))
    page.get_by_role("button", name="Save for review").click()
    expect(page.get_by_text("You wrote or edited #1: another reviewer accepts it.")).to_be_visible()
    expect(page.get_by_role("button", name="Accept #1")).to_have_count(0)  # the two-person rule
    micro = page.locator("#item-1 .codepoint")  # the one character outside ASCII, shown and named
    expect(micro).to_have_text("µ")
    expect(micro).to_have_attribute("title", "U+00B5 MICRO SIGN")
    expect(page.get_by_text("Characters outside ASCII in its edits: U+00B5 MICRO SIGN")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Your reviewer token")).to_be_visible()
    page.goto(url)
    expect(page.get_by_label("Your reviewer token")).to_be_visible()  # signed out: the session is over
    page = ben.new_page()
    page.goto(url)
    page.get_by_label("Your reviewer token").fill(tokens["Ben"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Accept #1").click()
    expect(page.get_by_role("table", name="Decisions on #1")).to_contain_text("proposed → accepted")
    page.get_by_label("Note on #1").fill("the result is in the title")
    page.get_by_role("button", name="Reject #1").click()
    expect(page.get_by_role("table", name="Decisions on #1")).to_contain_text("accepted → rejected")
    expect(page.get_by_role("table", name="Decisions on #1")).to_contain_text("the result is in the title")
    page.screenshot(path=str(tmp_path / "authoring.png"), full_page=True)
    ana.close()
    ben.close()
    [item] = queue.items("rejected")
    assert item["provenance"] == {"author": "human", "by": "Ana"} and item["subfield"] == "Systems/Circuits"
    assert "[[increased, decreased by 5 µm]]" in item["combined"]
    assert [decision["reviewer"] for decision in item["history"]] == ["Ben", "Ben"]


@pytest.mark.slow
def test_author_serve_passes_its_options_on(tmp_path: Path) -> None:
    (tmp_path / "candidates.jsonl").write_text(json.dumps(CANDIDATES[0]) + "\n")
    queue = tmp_path / "q.sqlite"
    token = ReviewQueue(queue).add_reviewer("Ana")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "brainbench",
        "author",
        "serve",
        "--queue",
        str(queue),
        "--candidates",
        str(tmp_path / "candidates.jsonl"),
        "--subfield",
        "Sleep",
        "--subfield",
        "Memory",
        "--secure-cookies",
        "--reference-model",
        "none",
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key != "BRAINBENCH_AUTHOR_TOKEN"}
    with server_process(command, f"{url}/healthz", tmp_path / "server.log", env=env):
        first = httpx.get(f"{url}/write/0", headers={"Authorization": f"Bearer {token}"})
        assert "; secure" in first.headers["set-cookie"].lower()
        assert "<option>Memory</option>" in first.text and "<option>Sleep</option>" in first.text
