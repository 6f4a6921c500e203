"""New test cases: combining and checking alterations, the review queue, the authoring page in Chromium,
and the whole path from PubMed to a scored test set through a real chat server (slow)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from brainbench.authoring import ReviewQueue, build_dataset, check_alteration, combine
from brainbench.authoring.edits import ReferenceModel
from brainbench.authoring.queue import ReviewConflict, SelfAcceptance
from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.errors import InputError
from tests.corpus.eutils_server import ServerState, eutils_server, make_articles
from tests.servers import serving

ABSTRACT = (
    "Sleep supports memory. We recorded hippocampal neurons in mice for three weeks. "
    "We found that firing rates increased after sleep. This suggests that sleep consolidates memories."
)
GOOD = ABSTRACT.replace("increased after", "decreased after")


def test_combine_reads_back_into_both_versions() -> None:
    assert combine(ABSTRACT, GOOD) == ABSTRACT.replace("increased after", "[[increased, decreased]] after")
    inserted = ABSTRACT.replace("after sleep.", "after deep sleep.")
    assert "[[after, after deep]]" in combine(ABSTRACT, inserted)  # a pure insertion takes in the word before it
    from brainbench.data.cases import parse_combined

    combined = combine("Rates rose, fell and rose.", "Rates fell, rose and fell.")  # edits with commas still read back
    assert (parse_combined(combined).original, parse_combined(combined).altered) == (
        "Rates rose, fell and rose.",
        "Rates fell, rose and fell.",
    )


@pytest.mark.parametrize(
    ("altered", "reason"),
    [
        (ABSTRACT, "changes nothing"),
        (ABSTRACT.replace("Sleep supports", "Sleep impairs"), "edits the background or methods"),
        (ABSTRACT.replace("in mice", "in rats"), "edits the background or methods"),
        (ABSTRACT.replace("increased after", "did not increase after"), "bare negation"),
        (
            ABSTRACT + " Rates also fell during wake in every animal we could record from.",
            "different number of sentences",
        ),
    ],
)
def test_checks_say_why(altered: str, reason: str) -> None:
    assert any(reason in found for found in check_alteration(ABSTRACT, altered))


def test_checks_pass_a_good_alteration_and_flag_an_extreme_perplexity_gap() -> None:
    assert check_alteration(ABSTRACT, GOOD) == []
    reasons = check_alteration(ABSTRACT, GOOD, log_ppl=lambda text: 3.0 if text == GOOD else 2.0)
    assert reasons and "perplexity gap is extreme" in reasons[0]


def test_checks_refuse_html_markup() -> None:
    reasons = check_alteration(ABSTRACT, GOOD.replace("decreased", "<b>decreased</b>"))
    assert reasons == ["holds HTML markup (</b>, <b>): write plain text"]
    assert check_alteration(ABSTRACT, GOOD.replace("decreased after", "decreased &amp; fell after")) == [
        "holds HTML markup (&amp;): write plain text"
    ]
    with_tags = ABSTRACT.replace("mice", "<i>mice</i>")  # markup the original has already is no new markup
    assert check_alteration(with_tags, with_tags.replace("increased after", "decreased after")) == []


def test_sizes_are_checked_before_the_texts_are_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    def compare(*args: object, **kwargs: object) -> None:
        raise AssertionError("a 1 MB alteration was compared word by word")

    monkeypatch.setattr(difflib, "SequenceMatcher", compare)
    huge = ABSTRACT + " rates" * 170_000  # 1 MB
    assert check_alteration(ABSTRACT, huge) == [f"the length changes too much (26 -> {26 + 170_000} words)"]


def test_queue_review_and_versioned_test_set(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    candidate = {"doi": "10.1/x", "journal": "J", "subfield": "Systems", "text": ABSTRACT}
    bad = queue.add(
        candidate,
        ABSTRACT.replace("Sleep supports", "Sleep impairs"),
        {"model": "m", "prompt": "p"},
        ["edits the background"],
    )
    good = queue.add(candidate, GOOD, {"model": "m", "prompt": "p"}, [])
    assert [item["status"] for item in queue.items()] == ["rejected", "proposed"]
    with pytest.raises(InputError, match="cannot accept: edits the background"):
        queue.review(bad, "accepted", reviewer="ana")
    fixed = ABSTRACT.replace("increased after", "vanished after")
    with pytest.raises(SelfAcceptance, match="ana wrote or edited it: another reviewer accepts it"):
        queue.review(bad, "accepted", reviewer="ana", altered=fixed)  # her own edit: the two-person rule
    edited = queue.review(bad, "proposed", reviewer="ana", altered=fixed)  # an edit, no decision
    assert edited["provenance"] == {"model": "m", "prompt": "p", "edited_by": "human", "editors": ["ana"]}
    assert edited["status"] == "proposed" and "[[increased, vanished]]" in edited["combined"]
    queue.review(bad, "accepted", reviewer="ben", note="fixed by hand")
    queue.review(good, "accepted", reviewer="ben", expected="proposed")
    with pytest.raises(InputError, match="every accepted item was refused .*not checked with a reference model"):
        build_dataset(queue, "sleep-bench", "1", tmp_path / "sets")
    reference = ReferenceModel("scripted", lambda text: 2.0)  # the gap itself is checked with a real model (slow)
    assert [item_id for item_id, _ in queue.check(reference)] == [bad, good]
    path = build_dataset(queue, "sleep-bench", "1", tmp_path / "sets")
    dataset = load_dataset(path, texts="reparsed")
    assert len(dataset.cases) == 2 and not dataset.errors and dataset.cases[1].altered == GOOD
    manifest = json.loads((tmp_path / "sets" / "sleep-bench-v1.manifest.json").read_text())
    assert manifest["n_items"] == 2 and manifest["items"][0]["note"] == "fixed by hand" and not manifest["refused"]
    assert manifest["items"][0]["checks"]["reference_model"] == "scripted"
    assert [
        (d["reviewer"], d["from_status"], d["to_status"], d["edited"]) for d in manifest["items"][0]["decisions"]
    ] == [("ana", "rejected", "proposed", True), ("ben", "proposed", "accepted", False)]
    with pytest.raises(InputError, match="this version exists already"):
        build_dataset(queue, "sleep-bench", "1", tmp_path / "sets")


def test_every_review_decision_is_kept(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    item = queue.add({"doi": "10.1/x", "text": ABSTRACT}, GOOD, {"author": "human"}, [])
    queue.review(item, "accepted", reviewer="ana", expected="proposed")
    with pytest.raises(ReviewConflict, match="is accepted now, not proposed: someone decided it meanwhile"):
        queue.review(item, "rejected", reviewer="ben", expected="proposed", note="too easy")
    with pytest.raises(ReviewConflict, match=r"ana decided it \(accepted\) at .*: changing a decision needs a note"):
        queue.review(item, "rejected", reviewer="ben", expected="accepted")
    flipped = queue.review(item, "rejected", reviewer="ben", expected="accepted", note="the result is in the title")
    assert flipped["status"] == "rejected" and flipped["note"] == "the result is in the title"
    assert [(d["reviewer"], d["from_status"], d["to_status"], d["note"]) for d in flipped["history"]] == [
        ("ana", "proposed", "accepted", None),
        ("ben", "accepted", "rejected", "the result is in the title"),
    ]
    assert all(d["decided_at"].endswith("+00:00") for d in flipped["history"])


@pytest.mark.slow
def test_from_pubmed_to_a_scored_test_set(
    tmp_path: Path, data_dir: Path, embedded_scorer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brainbench.scoring.hf import embedded_model_file

    # the reference model of `author propose` and `dataset build`: the embedded one, loaded once per test session
    reference = ReferenceModel.from_scorer(embedded_scorer)
    monkeypatch.setattr("brainbench.authoring.edits.load_reference_model", lambda name: reference)
    runner = CliRunner()
    with eutils_server(ServerState(make_articles())) as url:
        result = runner.invoke(
            app,
            [
                "fetch-abstracts",
                "--query",
                '"J Neurosci"[ta]',
                "--since",
                "2015/01/01",
                "--out",
                str(tmp_path / "candidates.jsonl"),
                "--subfield",
                "Systems/Circuits",
                "--eutils-url",
                url,
                "--limit",
                "3",
            ],
        )
    assert result.exit_code == 0, result.stderr
    candidates = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    assert (
        len(candidates) == 3
        and candidates[0]["doi"].startswith("10.1523/")
        and "Firing rates rose" in candidates[0]["text"]
    )
    queue = tmp_path / "review.sqlite"
    with serving(
        embedded_model_file(), tmp_path
    ) as base_url:  # llama-cpp-python's OpenAI-compatible server, chat endpoint
        result = runner.invoke(
            app,
            ["author", "propose", str(tmp_path / "candidates.jsonl"), "--queue", str(queue), "--base-url", base_url],
        )
    assert result.exit_code == 0, result.stderr
    items = ReviewQueue(queue).items()
    assert len(items) == 3 and all(item["provenance"]["backend"] == "openai-chat" for item in items)
    rejected = [item for item in items if item["status"] == "rejected"]
    assert rejected and all(
        item["reasons"] for item in rejected
    )  # a 135M model's proposals mostly fail the checks, with reasons
    for item in items:  # a reviewer fixes what failed by hand, another accepts it all (the two-person rule)
        if item["status"] != "proposed":
            fixed = item["original"].replace("rose by", "fell by")
            edit = ["author", "review", str(item["id"]), "edit", "--queue", str(queue), "--by", "ana"]
            result = runner.invoke(app, [*edit, "--altered", fixed])
            assert result.exit_code == 0, result.stderr
        result = runner.invoke(
            app, ["author", "review", str(item["id"]), "accept", "--queue", str(queue), "--by", "ben"]
        )
        assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["author", "review", str(items[0]["id"]), "reject", "--queue", str(queue)])
    assert result.exit_code == 1 and "changing a decision needs a note" in result.stderr  # a person decided it already
    assert all(item["history"][-1]["reviewer"] == "ben" for item in ReviewQueue(queue).items())
    result = runner.invoke(
        app,
        [
            "dataset",
            "build",
            "--name",
            "replay",
            "--version",
            "1",
            "--queue",
            str(queue),
            "--out",
            str(tmp_path / "sets"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            str(tmp_path / "sets" / "replay-v1.csv"),
            "--out",
            str(tmp_path / "run"),
            "--store",
            str(tmp_path / "store.sqlite"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n_scored"] == 3
