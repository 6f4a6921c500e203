"""New test cases: combining and checking alterations, the review queue, the authoring page in Chromium,
and the whole path from PubMed to a scored test set through a real chat server (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from brainbench.authoring import ReviewQueue, build_dataset, check_alteration, combine
from brainbench.authoring.app import create_app
from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.errors import InputError
from tests.corpus.eutils_server import ServerState, eutils_server, make_articles
from tests.report.test_report import CHROMIUM_ARGS, chromium_path
from tests.scoring.test_backends import serving

ABSTRACT = ("Sleep supports memory. We recorded hippocampal neurons in mice for three weeks. "
            "We found that firing rates increased after sleep. This suggests that sleep consolidates memories.")
GOOD = ABSTRACT.replace("increased after", "decreased after")


def test_combine_reads_back_into_both_versions() -> None:
    assert combine(ABSTRACT, GOOD) == ABSTRACT.replace("increased after", "[[increased, decreased]] after")
    inserted = ABSTRACT.replace("after sleep.", "after deep sleep.")
    assert "[[after, after deep]]" in combine(ABSTRACT, inserted)  # a pure insertion takes in the word before it
    from brainbench.data.cases import parse_combined

    combined = combine("Rates rose, fell and rose.", "Rates fell, rose and fell.")  # edits with commas still read back
    assert (parse_combined(combined).original, parse_combined(combined).altered) == ("Rates rose, fell and rose.", "Rates fell, rose and fell.")


@pytest.mark.parametrize(
    ("altered", "reason"),
    [
        (ABSTRACT, "changes nothing"),
        (ABSTRACT.replace("Sleep supports", "Sleep impairs"), "edits the background or methods"),
        (ABSTRACT.replace("in mice", "in rats"), "edits the background or methods"),
        (ABSTRACT.replace("increased after", "did not increase after"), "bare negation"),
        (ABSTRACT + " Rates also fell during wake in every animal we could record from.", "different number of sentences"),
    ],
)
def test_checks_say_why(altered: str, reason: str) -> None:
    assert any(reason in found for found in check_alteration(ABSTRACT, altered))


def test_checks_pass_a_good_alteration_and_flag_an_extreme_perplexity_gap() -> None:
    assert check_alteration(ABSTRACT, GOOD) == []
    reasons = check_alteration(ABSTRACT, GOOD, log_ppl=lambda text: 3.0 if text == GOOD else 2.0)
    assert reasons and "perplexity gap is extreme" in reasons[0]


def test_queue_review_and_versioned_test_set(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    candidate = {"doi": "10.1/x", "journal": "J", "subfield": "Systems", "text": ABSTRACT}
    bad = queue.add(candidate, ABSTRACT.replace("Sleep supports", "Sleep impairs"), {"model": "m", "prompt": "p"}, ["edits the background"])
    good = queue.add(candidate, GOOD, {"model": "m", "prompt": "p"}, [])
    assert [item["status"] for item in queue.items()] == ["rejected", "proposed"]
    with pytest.raises(InputError, match="cannot accept: edits the background"):
        queue.review(bad, "accepted")
    edited = queue.review(bad, "accepted", altered=ABSTRACT.replace("increased after", "vanished after"), note="fixed by hand")
    assert edited["provenance"] == {"model": "m", "prompt": "p", "edited_by": "human"} and "[[increased, vanished]]" in edited["combined"]
    queue.review(good, "accepted")
    path = build_dataset(queue, "sleep-bench", "1", tmp_path / "sets")
    dataset = load_dataset(path, texts="reparsed")
    assert len(dataset.cases) == 2 and not dataset.errors and dataset.cases[1].altered == GOOD
    manifest = json.loads((tmp_path / "sets" / "sleep-bench-v1.manifest.json").read_text())
    assert manifest["n_items"] == 2 and manifest["items"][0]["note"] == "fixed by hand"
    with pytest.raises(InputError, match="this version exists already"):
        build_dataset(queue, "sleep-bench", "1", tmp_path / "sets")


@pytest.mark.slow
def test_the_authoring_page_in_chromium(tmp_path: Path) -> None:
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    queue = ReviewQueue(tmp_path / "review.sqlite")
    server = uvicorn.Server(uvicorn.Config(create_app(queue, "tok", [{"doi": "10.1/x", "journal": "J", "subfield": "", "text": ABSTRACT}]),
                                           host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        pass
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_label("Authoring token").fill("tok")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Write an alteration").click()
            page.get_by_label("Subfield").fill("Systems/Circuits")
            page.get_by_label("Altered abstract").fill(ABSTRACT.replace("We recorded", "We imaged"))  # methods: refused
            page.get_by_role("button", name="Save for review").click()
            assert page.get_by_role("alert").inner_text().count("background or methods") == 1
            page.get_by_label("Altered abstract").fill(GOOD)
            page.get_by_role("button", name="Save for review").click()
            page.get_by_role("button", name="Accept #1").click()
            page.screenshot(path=str(tmp_path / "authoring.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    [item] = queue.items("accepted")
    assert item["provenance"] == {"author": "human"} and item["subfield"] == "Systems/Circuits" and "[[increased, decreased]]" in item["combined"]


def test_pages_need_the_token(tmp_path: Path) -> None:
    client = TestClient(create_app(ReviewQueue(tmp_path / "q.sqlite"), "tok", []), follow_redirects=False)
    assert client.get("/").status_code == 401 and client.get("/write/0").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer tok"}).status_code == 200


@pytest.mark.slow
def test_from_pubmed_to_a_scored_test_set(tmp_path: Path, data_dir: Path) -> None:
    from brainbench.scoring.hf import embedded_model_file

    runner = CliRunner()
    with eutils_server(ServerState(make_articles())) as url:
        result = runner.invoke(app, ["fetch-abstracts", "--query", '"J Neurosci"[ta]', "--since", "2015/01/01", "--out", str(tmp_path / "candidates.jsonl"),
                                     "--subfield", "Systems/Circuits", "--eutils-url", url, "--limit", "3"])
    assert result.exit_code == 0, result.stderr
    candidates = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    assert len(candidates) == 3 and candidates[0]["doi"].startswith("10.1523/") and "Firing rates rose" in candidates[0]["text"]
    queue = tmp_path / "review.sqlite"
    with serving(embedded_model_file(), tmp_path) as base_url:  # llama-cpp-python's OpenAI-compatible server, chat endpoint
        result = runner.invoke(app, ["author", "propose", str(tmp_path / "candidates.jsonl"), "--queue", str(queue), "--base-url", base_url])
    assert result.exit_code == 0, result.stderr
    items = ReviewQueue(queue).items()
    assert len(items) == 3 and all(item["provenance"]["backend"] == "openai-chat" for item in items)
    rejected = [item for item in items if item["status"] == "rejected"]
    assert rejected and all(item["reasons"] for item in rejected)  # a 135M model's proposals mostly fail the checks, with reasons
    for item in items:  # a reviewer accepts what passed, and fixes the rest by hand
        fixed = None if item["status"] == "proposed" else item["original"].replace("rose by", "fell by")
        result = runner.invoke(app, ["author", "review", str(item["id"]), "accept", "--queue", str(queue)] + (["--altered", fixed] if fixed else []))
        assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["dataset", "build", "--name", "replay", "--version", "1", "--queue", str(queue), "--out", str(tmp_path / "sets")])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["run", "--dataset", str(tmp_path / "sets" / "replay-v1.csv"), "--out", str(tmp_path / "run"),
                                 "--store", str(tmp_path / "store.sqlite"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n_scored"] == 3
