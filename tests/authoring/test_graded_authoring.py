"""Graded cases in authoring: the checks, the review queue and the test set it builds (which loads as graded cases),
the authoring page's form, and proposals from a real chat server (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from brainbench.authoring import ReviewQueue, build_dataset
from brainbench.authoring.graded import check_graded, propose_grid
from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.errors import InputError
from tests.authoring.test_app import CANDIDATES, csrf_of, signed_in
from tests.servers import serving

NUMBERED = (
    "Sleep supports memory. We recorded hippocampal neurons in mice for three weeks. "
    "We found that firing rates increased by 35% after sleep. This suggests that sleep consolidates memories."
)
GRID = ["10%", "20%", "35%", "50%", "70%"]


def test_a_good_graded_case_is_the_text_with_a_slot_and_a_sorted_grid() -> None:
    row, reasons = check_graded(NUMBERED, "35%", ["70%", "10%", "35%", "20%", "50%"], "%")
    assert not reasons
    assert row == {
        "text": NUMBERED.replace("35%", "{value}"),
        "values": GRID,
        "numeric": [10, 20, 35, 50, 70],
        "answer": 2,
        "unit": "%",
    }


@pytest.mark.parametrize(
    ("number", "values", "reason"),
    [
        ("45%", GRID, "'45%' is not in the abstract as a number of its own"),
        ("5%", ["5%", "10%", "20%"], "'5%' is not in the abstract as a number of its own"),  # inside 35%
        ("35%", ["10%", "20%", "50%"], "the values must include the real one, '35%'"),
        ("35%", ["35%", "50%"], "'values' holds 2 value(s); a graded case needs at least 3"),
        ("35%", ["10%", "35%", "many"], "'many' does not read as a number"),
        ("35%", ["35%", "35 %", "50%"], "two values mean the same number"),
        ("three", ["two", "three", "four"], "the number is in the background or methods (sentence 2 of 4)"),
        ("", GRID, "name the number that states the result"),
    ],
)
def test_each_problem_is_a_reason(number: str, values: list[str], reason: str) -> None:
    _, reasons = check_graded(NUMBERED, number, values)
    assert any(reason in found for found in reasons), reasons


def test_queue_review_and_a_graded_test_set_beside_the_pairs(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    good = queue.add_graded(
        {"doi": "10.1/x", "subfield": "Systems/Circuits", "text": NUMBERED},
        "35%",
        GRID,
        "%",
        {"author": "human", "by": "ana"},
    )
    bad = queue.add_graded({"doi": "10.1/y", "text": NUMBERED}, "45%", GRID, "%", {"model": "m", "prompt": "p"})
    assert [item["status"] for item in queue.items()] == ["proposed", "rejected"]
    assert queue.item(good)["combined"] == NUMBERED.replace("35%", "[[35% | 10% | 20% | 50% | 70%]]")
    with pytest.raises(InputError, match="cannot accept: '45%' is not in the abstract"):
        queue.review(bad, "accepted", reviewer="ben")
    with pytest.raises(InputError, match="a graded item is not edited as a text"):
        queue.review(good, "accepted", reviewer="ben", altered="anything")
    queue.review(good, "accepted", reviewer="ben", expected="proposed")
    path = build_dataset(queue, "sleep-graded", "1", tmp_path / "sets")
    assert path.name == "sleep-graded-v1.graded.jsonl" and not (tmp_path / "sets" / "sleep-graded-v1.csv").exists()
    dataset = load_dataset(path)
    [case] = dataset.cases
    assert (
        not dataset.problems and case.grid.values == tuple(GRID) and case.grid.answer == 2 and case.original == NUMBERED
    )
    manifest = json.loads((tmp_path / "sets" / "sleep-graded-v1.manifest.json").read_text())
    assert (
        manifest["n_graded"] == 1
        and manifest["n_items"] == 0
        and manifest["graded_file"] == path.name
        and "graded_sha256" in manifest
    )
    assert (
        manifest["graded_items"][0]["number"] == "35%"
        and manifest["graded_items"][0]["decisions"][0]["reviewer"] == "ben"
    )


def test_an_older_queue_gets_the_grid_column(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    with queue.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE items DROP COLUMN grid"))
    ReviewQueue(tmp_path / "review.sqlite").add_graded({"text": NUMBERED}, "35%", GRID, "", {"author": "human"})
    assert ReviewQueue(tmp_path / "review.sqlite").items()[0]["grid"]["answer"] == 2


def test_the_page_makes_a_graded_case(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.sqlite")
    client, csrf = signed_in(queue)
    assert 'href="/graded/0"' in client.get("/").text and 'name="values"' in client.get("/graded/0").text
    text = CANDIDATES[0]["text"]
    assert "increased after" in text and not any(ch.isdigit() for ch in text)  # the shared candidate has no number
    refused = client.post(
        "/graded/0", data={"csrf": csrf, "number": "35%", "values": "10%\n35%\n50%", "subfield": "Systems/Circuits"}
    )
    assert refused.status_code == 422 and "is not in the abstract as a number of its own" in refused.text
    assert not queue.items()


def test_the_page_saves_a_graded_case_for_review(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from brainbench.authoring.app import create_app

    queue = ReviewQueue(tmp_path / "q.sqlite")
    client = TestClient(
        create_app(
            queue,
            [{"doi": "10.1/n", "journal": "J", "subfield": "", "text": NUMBERED}],
            subfields=["Systems/Circuits"],
        ),
        follow_redirects=False,
    )
    csrf = csrf_of(client.get("/").text)
    assert client.post("/login", data={"csrf": csrf, "token": queue.add_reviewer("Ana")}).status_code == 303
    csrf = csrf_of(client.get("/").text)  # the form of the signed-in session
    saved = client.post(
        "/graded/0",
        data={
            "csrf": csrf,
            "number": "35%",
            "values": "70%\n10%\n35%\n\n20%\n50%",
            "unit": "%",
            "subfield": "Systems/Circuits",
        },
    )
    assert saved.status_code == 303, saved.text
    [item] = queue.items()
    assert (
        item["status"] == "proposed"
        and item["grid"]["values"] == GRID
        and item["provenance"] == {"author": "human", "by": "Ana"}
    )
    assert "[[35% | 10% | 20% | 50% | 70%]]" in client.get("/").text


class ScriptedChat:
    """Answers every prompt with one fixed reply: for the parsing of replies only (the slow test below uses a real
    model)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def __call__(self, messages: list[dict[str, str]]) -> str:
        return self.reply


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('```json\n{"number": "35%", "values": ["10%", "35%", "50%"]}\n```', ("35%", ["10%", "35%", "50%"])),
        ('Sure! {"number": 35, "values": [10, 35, 50]} Hope this helps.', ("35", ["10", "35", "50"])),
        ("I cannot find a number.", ("", [])),
        ('{"number": "35%", "values": "10%, 35%"}', ("35%", [])),
    ],
)
def test_a_models_reply_is_read_as_number_and_values(reply: str, expected: tuple[str, list[str]]) -> None:
    assert propose_grid(ScriptedChat(reply), NUMBERED) == expected


@pytest.mark.slow
def test_proposals_from_a_real_chat_server_are_queued_with_reasons(tmp_path: Path) -> None:
    from brainbench.scoring.hf import embedded_model_file

    candidates = tmp_path / "candidates.jsonl"
    candidates.write_text(
        json.dumps({"doi": "10.1/n", "subfield": "Systems/Circuits", "text": NUMBERED}) + "\n", encoding="utf-8"
    )
    with serving(embedded_model_file(), tmp_path) as base_url:
        result = CliRunner().invoke(
            app,
            [
                "author",
                "propose-graded",
                str(candidates),
                "--queue",
                str(tmp_path / "q.sqlite"),
                "--base-url",
                base_url,
            ],
        )
    assert result.exit_code == 0, result.stderr
    [item] = ReviewQueue(tmp_path / "q.sqlite").items()
    assert item["provenance"]["backend"] == "openai-chat" and item["grid"] is not None
    assert (item["status"] == "proposed") == (
        not item["reasons"]
    )  # a 135M model's proposal is queued either way, with its reasons
