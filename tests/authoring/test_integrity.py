"""What a built test set may contain: every item checked under a recorded reference model, no invisible or
look-alike edit, accepted by someone other than its writer; reviewers with their own tokens; subfields and
file names that cannot smuggle anything in. Page tests run against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from brainbench.authoring import ReviewQueue, build_dataset
from brainbench.authoring.app import create_app
from brainbench.authoring.edits import ReferenceModel, check_alteration, normalise_text
from brainbench.authoring.queue import check_record, decisions_table, items_table
from brainbench.cli import app
from brainbench.db import utc_now
from brainbench.web import LoginThrottle
from tests.authoring.test_authoring import ABSTRACT, GOOD
from tests.study.flows import csrf_of, live

CANDIDATE = {"doi": "10.1/x", "journal": "J", "subfield": "Systems/Circuits", "text": ABSTRACT}
GIBBERISH = ABSTRACT.replace("sleep consolidates memories.", "qzvx kwpltr bfxmq.")  # the last words: random letters
ZERO_WIDTH = ABSTRACT.replace("increased after", "incr\u200beased after")
RIGHT_TO_LEFT = ABSTRACT.replace("increased after sleep", "decreased after \u202esleep")
HOMOGLYPH = ABSTRACT.replace("increased after", "incr\u0435ased after")  # a Cyrillic е
SELF_ACCEPTED = ABSTRACT.replace("increased after", "fell after")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def queue(tmp_path: Path) -> ReviewQueue:
    return ReviewQueue(tmp_path / "review.sqlite")


@pytest.fixture(scope="module")
def reference(embedded_scorer: Any) -> ReferenceModel:
    return ReferenceModel.from_scorer(embedded_scorer)


def sign_in(url: str, token: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=120)
    assert client.post("/login", data={"csrf": csrf_of(client.get("/").text), "token": token}).status_code == 303
    return client, csrf_of(client.get("/").text)


def test_texts_are_normalised_and_invisible_or_look_alike_edits_fail_the_checks() -> None:
    assert normalise_text("cafe\u0301  au\n lait") == "caf\u00e9 au lait"
    assert any("U+200B ZERO WIDTH SPACE" in reason for reason in check_alteration(ABSTRACT, ZERO_WIDTH))
    assert any("U+202E RIGHT-TO-LEFT OVERRIDE" in reason for reason in check_alteration(ABSTRACT, RIGHT_TO_LEFT))
    reasons = check_alteration(ABSTRACT, HOMOGLYPH)
    assert any("U+0435 CYRILLIC SMALL LETTER IE" in reason for reason in reasons)
    assert any("changes only invisible or look-alike characters" in reason for reason in reasons)
    fullwidth = ABSTRACT.replace("increased after", "ｉｎｃｒｅａｓｅｄ after")
    assert any("look-alike" in reason for reason in check_alteration(ABSTRACT, fullwidth))
    greek = ABSTRACT.replace("increased after sleep", "increased after κ-opioid and α-synuclein block")
    greek = greek.replace("firing rates", "rates")  # same length
    assert check_alteration(ABSTRACT, GOOD.replace("decreased", "decreased by 5 µm")) == []  # science's own symbols
    assert not any("alphabets" in reason for reason in check_alteration(ABSTRACT, greek))


@pytest.mark.slow
def test_the_page_checks_the_perplexity_gap_under_its_reference_model(
    queue: ReviewQueue, reference: ReferenceModel
) -> None:
    token = queue.add_reviewer("alice")
    with live(create_app(queue, [CANDIDATE], reference=reference)) as url:
        client, csrf = sign_in(url, token)
        refused = client.post("/write/0", data={"csrf": csrf, "altered": GIBBERISH, "subfield": "Systems/Circuits"})
        assert refused.status_code == 422 and "the perplexity gap is extreme (ln PPL altered - original = +" in (
            refused.text
        )
        saved = client.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"})
        assert saved.status_code == 303
        page = client.get("/").text
        client.close()
    [item] = queue.items()
    assert item["checks"]["reference_model"] == reference.name and item["checks"]["passed"]
    assert abs(item["checks"]["log_ppl_gap"]) <= 0.15 and f"Checked under {reference.name}" in page
    gap = check_record(ABSTRACT, GIBBERISH, reference)["log_ppl_gap"]
    assert gap > 0.15  # the text checks pass it: only the reference model catches it


@pytest.mark.slow
def test_the_page_refuses_invisible_and_look_alike_edits(queue: ReviewQueue) -> None:
    token = queue.add_reviewer("alice")
    with live(create_app(queue, [CANDIDATE])) as url:
        client, csrf = sign_in(url, token)
        for altered, reason in (
            (ZERO_WIDTH, "U+200B ZERO WIDTH SPACE"),
            (RIGHT_TO_LEFT, "U+202E RIGHT-TO-LEFT OVERRIDE"),
            (HOMOGLYPH, "U+0435 CYRILLIC SMALL LETTER IE"),
        ):
            response = client.post("/write/0", data={"csrf": csrf, "altered": altered, "subfield": "Systems/Circuits"})
            assert response.status_code == 422 and reason in response.text, altered
        decomposed = GOOD.replace("decreased", "decreased by 5 \u00b5m in cafe\u0301")
        saved = client.post("/write/0", data={"csrf": csrf, "altered": decomposed, "subfield": "Systems/Circuits"})
        assert saved.status_code == 303, saved.text
        page = client.get("/").text
        client.close()
    [item] = queue.items()
    assert "caf\u00e9" in item["altered"] and "cafe\u0301" not in item["altered"]  # stored in NFC
    assert 'title="U+00E9 LATIN SMALL LETTER E WITH ACUTE">\u00e9</span>' in page  # shown to reviewers, named
    assert "Characters outside ASCII in its edits: U+00B5 MICRO SIGN, U+00E9 LATIN SMALL LETTER E WITH ACUTE" in page


@pytest.mark.slow
def test_each_reviewer_has_their_own_token_and_nobody_accepts_their_own_item(queue: ReviewQueue) -> None:
    alice, bob = queue.add_reviewer("alice"), queue.add_reviewer("bob")
    with live(create_app(queue, [CANDIDATE])) as url:
        writer, csrf = sign_in(url, alice)
        assert writer.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"}).status_code
        accept = {"csrf": csrf, "decision": "accepted", "expected": "proposed"}
        own = writer.post("/review/1", data=accept)
        assert own.status_code == 403 and "alice wrote or edited it: another reviewer accepts it" in own.text
        # a second client that calls itself alice gets no further: the name comes from the token
        impostor = httpx.Client(base_url=url, timeout=60)
        login = {"csrf": csrf_of(impostor.get("/").text), "token": bob, "name": "alice"}
        assert impostor.post("/login", data=login).status_code == 303
        assert "Signed in as bob." in impostor.get("/").text
        forged = base64.urlsafe_b64encode(b"alice").decode() + ".9999999999999." + "0" * 64
        assert httpx.get(url, headers={"Cookie": f"bb_author={forged}"}, timeout=60).status_code == 401
        # the Bearer API: recorded under the token's owner
        bearer = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {bob}"})
        decided = bearer.post("/review/1", data={**accept, "csrf": csrf_of(bearer.get("/").text)})
        assert decided.status_code == 303, decided.text
        for client in (writer, impostor, bearer):
            client.close()
    [item] = queue.items()
    assert item["status"] == "accepted" and [d["reviewer"] for d in item["history"]] == ["bob"]


@pytest.mark.slow
def test_reviewer_sessions_expire_sign_out_and_end_with_a_new_token(queue: ReviewQueue) -> None:
    clock = Clock()
    token = queue.add_reviewer("alice")
    with live(create_app(queue, [CANDIDATE], clock=clock, throttle=LoginThrottle(clock=clock))) as url:
        client, csrf = sign_in(url, token)
        session = {"Cookie": f"bb_author={client.cookies['bb_author']}"}
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
        assert httpx.get(url, headers=session, timeout=60).status_code == 401  # the old cookie, replayed
        client, _ = sign_in(url, token)
        assert client.get("/").status_code == 200
        new_token = queue.add_reviewer("Alice")  # a new token (the same person, in any case): the old one ends
        assert client.get("/").status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code == 401
        clock.now += 1  # the wait after a wrong token
        assert httpx.get(url, headers={"Authorization": f"Bearer {new_token}"}, timeout=60).status_code == 200
        client, _ = sign_in(url, new_token)
        assert client.get("/").status_code == 200
        clock.now += 8 * 3600 + 1
        assert client.get("/").status_code == 401  # expired
        client.close()
    assert [reviewer["name"] for reviewer in queue.reviewers()] == ["alice"]


@pytest.mark.slow
def test_new_subfields_are_normalised_and_matched_ignoring_case(queue: ReviewQueue) -> None:
    token = queue.add_reviewer("alice")
    with live(create_app(queue, [CANDIDATE], subfields=["Systems/Circuits"])) as url:
        client, csrf = sign_in(url, token)

        def save(new_subfield: str) -> httpx.Response:
            fields = {"csrf": csrf, "altered": GOOD, "subfield": "__new", "new_subfield": new_subfield}
            return client.post("/write/0", data=fields)

        zero_width = save("Systems/\u200bCircuits")
        assert zero_width.status_code == 422 and "U+200B ZERO WIDTH SPACE" in zero_width.text
        markup = save("Sleep\n<b>x</b>")
        assert markup.status_code == 422 and "U+000A" in markup.text
        assert save("Sleep <b>x</b>").status_code == 422
        assert save("  systems/CIRCUITS ").status_code == 303  # the known subfield, not a new one
        assert save("Sl\u0065\u0301ep").status_code == 303  # a new one, in NFC
        client.close()
    assert [item["subfield"] for item in queue.items()] == ["Systems/Circuits", "Sl\u00e9ep"]


def test_an_empty_author_token_or_no_reviewer_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    serve = ["author", "serve", "--queue", str(tmp_path / "q.sqlite"), "--reference-model", "none"]
    monkeypatch.setenv("BRAINBENCH_AUTHOR_TOKEN", "")
    result = runner.invoke(app, serve)
    assert result.exit_code == 1 and "BRAINBENCH_AUTHOR_TOKEN" in result.stderr and "empty" in result.stderr
    monkeypatch.delenv("BRAINBENCH_AUTHOR_TOKEN")
    result = runner.invoke(app, serve)
    assert result.exit_code == 1 and "brainbench author add-reviewer NAME" in result.stderr
    result = runner.invoke(app, ["author", "add-reviewer", "ana", "--queue", str(tmp_path / "q.sqlite")])
    token = result.stdout.strip()
    assert (
        result.exit_code == 0 and len(token) >= 32 and ReviewQueue(tmp_path / "q.sqlite").reviewer_for(token) == "ana"
    )


def test_dataset_names_are_plain_file_names(queue: ReviewQueue, tmp_path: Path) -> None:
    queue.add(CANDIDATE, GOOD, {"model": "m"}, [])
    for name, version in (("../escaped", "1"), ("ok", "../../1"), ("/abs", "1"), ("a/b", "1"), ("..", "1")):
        build = ["dataset", "build", "--name", name, "--version", version, "--queue", str(tmp_path / "review.sqlite")]
        result = CliRunner().invoke(app, [*build, "--out", str(tmp_path / "sets"), "--reference-model", "none"])
        assert result.exit_code == 1 and "is not a plain file name" in result.stderr, result.stderr
    assert not list(tmp_path.rglob("*.csv"))


def test_an_older_queue_is_migrated_on_open(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "review.sqlite")
    queue.add(CANDIDATE, GOOD, {"author": "human", "by": "ana"}, [])
    with queue.engine.begin() as connection:  # as the version before reviewers and recorded checks wrote it
        connection.execute(sa.text("ALTER TABLE items DROP COLUMN checks"))
        connection.execute(sa.text("DROP TABLE reviewers"))
        connection.execute(sa.text("DROP TABLE queue_settings"))
    reopened = ReviewQueue(tmp_path / "review.sqlite")
    [item] = reopened.items()
    assert item["checks"] is None and item["altered"] == GOOD
    assert reopened.reviewer_for(reopened.add_reviewer("ben")) == "ben"


def accepted_as_before(queue: ReviewQueue, altered: str, by: str, accepted_by: str) -> int:
    """An item accepted as the previous version allowed: no check with a reference model, any text, anyone."""
    item_id = queue.add(CANDIDATE, altered, {"author": "human", "by": by}, [])
    with queue.engine.begin() as connection:
        connection.execute(sa.update(items_table).where(items_table.c.id == item_id).values(status="accepted"))
        connection.execute(
            sa.insert(decisions_table).values(
                item_id=item_id,
                reviewer=accepted_by,
                decided_at=utc_now(),
                from_status="proposed",
                to_status="accepted",
                edited=False,
            )
        )
    return item_id


@pytest.fixture()
def embedded_reference(reference: ReferenceModel, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceModel]:
    """The CLI's reference model is the session's embedded model (loaded once per test session)."""
    monkeypatch.setattr("brainbench.authoring.edits.load_reference_model", lambda name: reference)
    yield reference


@pytest.mark.slow
def test_a_poisoned_queue_builds_a_test_set_without_any_poisoned_item(
    queue: ReviewQueue, tmp_path: Path, embedded_reference: ReferenceModel
) -> None:
    poisoned = {
        accepted_as_before(queue, GIBBERISH, "ana", "ben"): "the perplexity gap is extreme",
        accepted_as_before(queue, ZERO_WIDTH, "ana", "ben"): "U+200B ZERO WIDTH SPACE",
        accepted_as_before(queue, RIGHT_TO_LEFT, "ana", "ben"): "U+202E RIGHT-TO-LEFT OVERRIDE",
        accepted_as_before(queue, HOMOGLYPH, "ana", "ben"): "U+0435 CYRILLIC SMALL LETTER IE",
        accepted_as_before(queue, SELF_ACCEPTED, "ana", "ana"): "accepted by ana, who wrote or edited it",
    }
    good = accepted_as_before(queue, GOOD, "ana", "ben")
    path = str(tmp_path / "review.sqlite")
    build = ["dataset", "build", "--name", "neuro", "--version", "1", "--queue", path, "--out", str(tmp_path / "sets")]
    result = CliRunner().invoke(app, build)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "sets" / "neuro-v1.csv").read_text(encoding="utf-8"))))
    assert [row["incorrect_abstract"] for row in rows] == [GOOD]
    manifest = json.loads((tmp_path / "sets" / "neuro-v1.manifest.json").read_text())
    refused = {entry["queue_id"]: entry["reasons"] for entry in manifest["refused"]}
    assert set(refused) == set(poisoned) and manifest["items"][0]["queue_id"] == good
    for item_id, reason in poisoned.items():
        assert any(reason in found for found in refused[item_id]), refused[item_id]
        assert f"refused #{item_id}" in result.stderr  # and said on the command line, with why
    assert manifest["items"][0]["checks"]["reference_model"] == embedded_reference.name
    assert "5 refused" in result.stdout


@pytest.mark.slow
def test_author_check_records_the_reference_model(
    queue: ReviewQueue, tmp_path: Path, embedded_reference: ReferenceModel
) -> None:
    good, gibberish = (
        queue.add(CANDIDATE, GOOD, {"model": "m"}, []),
        queue.add(CANDIDATE, GIBBERISH, {"model": "m"}, []),
    )
    result = CliRunner().invoke(app, ["author", "check", "--queue", str(tmp_path / "review.sqlite")])
    assert result.exit_code == 0, result.stderr
    assert (
        f"#{good}: passed" in result.stdout and f"#{gibberish}: failed: the perplexity gap is extreme" in result.stdout
    )
    with pytest.raises(Exception, match=f"cannot accept: under {embedded_reference.name}: the perplexity gap"):
        queue.review(gibberish, "accepted", reviewer="ben")


@pytest.mark.slow
@pytest.mark.parametrize("queue_db", ["postgresql"], indirect=True)
def test_the_review_flow_on_postgresql(queue_db: str, tmp_path: Path) -> None:
    """Reviewers, pages, the two-person rule, recorded checks and the build, on a PostgreSQL queue (SQLite: above)."""
    queue = ReviewQueue(queue_db)
    alice, bob = queue.add_reviewer("alice"), queue.add_reviewer("bob")
    scripted = ReferenceModel("scripted", lambda text: 2.0)  # the gap itself is checked with a real model above
    with live(create_app(queue, [CANDIDATE], reference=scripted)) as url:
        writer, csrf = sign_in(url, alice)
        assert writer.post("/write/0", data={"csrf": csrf, "altered": GOOD, "subfield": "Systems/Circuits"}).status_code
        accept = {"decision": "accepted", "expected": "proposed"}
        assert writer.post("/review/1", data={"csrf": csrf, **accept}).status_code == 403
        reviewer, csrf = sign_in(url, bob)
        assert reviewer.post("/review/1", data={"csrf": csrf, **accept}).status_code == 303
        assert reviewer.post("/logout", data={"csrf": csrf}).status_code == 303
        assert reviewer.get("/").status_code == 401
        writer.close()
        reviewer.close()
    accepted_as_before(queue, ZERO_WIDTH, "alice", "bob")
    path = build_dataset(queue, "neuro", "1", tmp_path)
    manifest = json.loads((tmp_path / "neuro-v1.manifest.json").read_text())
    assert path.name == "neuro-v1.csv" and manifest["n_items"] == 1 and len(manifest["refused"]) == 1
    assert manifest["items"][0]["checks"]["reference_model"] == "scripted"
