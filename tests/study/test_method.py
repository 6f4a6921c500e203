"""The study as an experiment: trial order, reaction times, the profile, progress, the export's values,
consent, and forms that say what to fix."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from scipy.stats import chi2_contingency
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import Dataset
from brainbench.study import Answer, Profile, StudyError, StudyStore, create_app
from brainbench.study.assign import Plan, altered_first, assign_item, plan_trials
from brainbench.study.templates import DEFAULT_CONSENT
from tests.study.flows import AUTH, PROFILE, TOKEN, answer, consent, csrf_of, hidden, participant_data, start


def go_through(store: StudyStore, clock: list[float], answered: int | None = None, step_s: float = 20.0) -> int:
    """A participant consents, gives a profile, and answers ``answered`` trials (all by default) at ``step_s``
    apart on the store's clock; returns their id."""
    participant = store.participant_id(store.add_participant(clock[0]))
    store.save_profile(participant, Profile.model_validate(PROFILE))
    for _ in range(10_000 if answered is None else answered):
        clock[0] += step_s
        trial = store.next_trial(participant, clock[0])
        if trial is None:
            break
        store.submit(
            participant,
            Answer(position=trial.position, item_id=trial.item_id, choice="A", confidence=5, expertise=5),
            clock[0] + 1,
        )
    return participant


def response_counts(store: StudyStore) -> pd.Series:
    counts = pd.Series([row["item_id"] for row in store.responses()], dtype=int).value_counts()
    return counts.reindex(list(store.cases), fill_value=0)


def test_trial_position_is_independent_of_subfield(human: Dataset) -> None:
    """200 participants of 9 trials through the assignment (pure functions, as the store calls them)."""
    subfields = {case.item_id: case.subfield for case in human.cases}
    rng, counts, rows = random.Random(0), Counter[int](), []
    for participant in range(200):
        plan = plan_trials(subfields, counts, 9, rng.getrandbits(62), rng)
        given: set[int] = set()
        for position in range(9):
            item, plan = assign_item(plan, position, counts, given, subfields, rng)
            given.add(item)
            counts[item] += 1  # answered at once
            rows.append((participant, position, item, subfields[item], plan.subfields[position]))
    trials = pd.DataFrame(rows, columns=["participant", "position", "item", "subfield", "planned"])
    # numbered in the order the balancing picks them, trial 1 was Behavioral/Cognitive for 192 of 200 (p = 0.0 in
    # doubles)
    assert chi2_contingency(pd.crosstab(trials["position"], trials["subfield"])).pvalue > 0.01
    counted = trials["item"].value_counts().reindex(range(200), fill_value=0)
    assert counted.max() - counted.min() <= 1  # 1800 trials over 200 items: every item 9 times
    assert trials.groupby("participant")["subfield"].nunique().min() == 5  # every participant sees all five subfields
    assert (trials["subfield"] == trials["planned"]).all()  # as planned (after any swap)


def test_the_store_assigns_balanced_items_and_records_the_order(human: Dataset, tmp_path: Path) -> None:
    store = StudyStore(tmp_path / "study.sqlite", human, trials_per_participant=9, seed=0)
    clock = [0.0]
    for _ in range(30):
        go_through(store, clock)
    with store.engine.begin() as connection:
        rows = connection.exec_driver_sql(
            "SELECT participant_id, position, item_id, altered_first FROM assignments"
        ).all()
        seeds = dict(connection.exec_driver_sql("SELECT id, order_seed FROM participants").all())
        plans = dict(connection.exec_driver_sql("SELECT id, plan FROM participants").all())
    trials = pd.DataFrame(rows, columns=["participant", "position", "item", "altered_first"])
    trials["subfield"] = [human.cases[item].subfield for item in trials["item"]]
    counts = trials["item"].value_counts().reindex(range(200), fill_value=0)
    assert counts.max() - counts.min() <= 1 and len(trials) == 270  # 270 trials over 200 items: once or twice
    assert trials.groupby("participant")["subfield"].nunique().min() == 5
    for participant, shown in trials.sort_values("position").groupby("participant"):
        plan = Plan.from_json(json.loads(plans[participant]))  # the plan as followed, recorded
        assert list(shown["subfield"]) == list(plan.subfields)
        # the A/B sides are reproducible from the recorded seed
        assert list(shown["altered_first"].astype(bool)) == [altered_first(seeds[participant], p) for p in range(9)]


@pytest.mark.slow
def test_drop_outs_give_their_items_back(human: Dataset, tmp_path: Path) -> None:
    """120 participants, 30% of whom leave: after consent, or in the middle of a trial. Items stay within one
    response of each other at every moment (a leaver's trial holds its item only for the hold time)."""
    store = StudyStore(tmp_path / "study.sqlite", human, trials_per_participant=9, seed=1, hold_s=600)
    clock = [0.0]
    rng = random.Random(7)
    worst = 0
    for number in range(120):
        if number % 10 < 3:  # a drop-out: half of them leave after consenting, half halfway through a trial
            if number % 2:
                store.add_participant(clock[0])
            else:
                participant = go_through(store, clock, answered=rng.randrange(1, 8))
                clock[0] += 20
                store.next_trial(participant, clock[0])  # shown, never answered
            continue
        go_through(store, clock)
        counts = response_counts(store)
        worst = max(worst, counts.max() - counts.min())
    clock[0] += 601  # the last leavers' holds lapse
    go_through(store, clock)
    counts = response_counts(store)
    assert worst <= 1 and counts.max() - counts.min() <= 1, counts.value_counts()
    progress = store.progress(clock[0])
    assert (progress.responses_per_item_min, progress.responses_per_item_max) == (counts.min(), counts.max())
    assert sum(progress.items_by_responses.values()) == 200 and progress.on_screen == 0


def test_a_lapsed_trial_gets_another_item_when_its_item_is_ahead(human: Dataset, tmp_path: Path) -> None:
    store = StudyStore(tmp_path / "study.sqlite", human, trials_per_participant=2, seed=0, hold_s=60)
    leaver = store.participant_id(store.add_participant())
    store.save_profile(leaver, Profile.model_validate(PROFILE))
    held = store.next_trial(leaver, clock=0.0)
    assert store.progress(clock=30.0).on_screen == 1 and store.progress(clock=61.0).on_screen == 0
    clock = [100.0]
    for _ in range(300):  # others answer until the held item (free once its hold lapsed) is one of the most answered
        go_through(store, clock, step_s=1)
        counts = response_counts(store)
        if counts[held.item_id] > counts.min():
            break
    assert counts[held.item_id] > counts.min()
    back = store.next_trial(leaver, clock=clock[0] + 1)  # the leaver comes back to the same trial
    assert back.position == held.position and back.item_id != held.item_id
    assert response_counts(store)[back.item_id] == response_counts(store).min()
    with pytest.raises(StudyError, match="not one of yours"):  # the old item's form no longer answers the trial
        store.submit(
            leaver,
            Answer(position=back.position, item_id=held.item_id, choice="A", confidence=5, expertise=5),
            clock[0] + 2,
        )


def test_reaction_time_counts_only_the_time_on_screen(store: StudyStore) -> None:
    participant = store.participant_id(store.add_participant())
    store.save_profile(participant, Profile.model_validate(PROFILE))
    first = store.next_trial(participant, clock=100.0)
    store.leave(participant, first.view_id, clock=103.0)  # on screen 3 s, then the tab is closed
    again = store.next_trial(participant, clock=160.0)  # back 57 s later
    assert (again.position, again.item_id) == (first.position, first.item_id) and again.view_id != first.view_id
    store.leave(participant + 1, again.view_id, clock=161.0)  # another participant's beacon changes nothing
    store.submit(
        participant,
        Answer(position=again.position, item_id=again.item_id, choice="A", confidence=5, expertise=5),
        clock=164.5,
    )
    second = store.next_trial(participant, clock=200.0)
    store.submit(
        participant,
        Answer(position=second.position, item_id=second.item_id, choice="B", confidence=5, expertise=5, blurs=2),
        clock=202.25,
    )
    [resumed, plain] = store.responses()
    assert (resumed["rt_ms"], resumed["rt_total_ms"], resumed["n_views"]) == (3000 + 4500, 64500, 2)
    assert (plain["rt_ms"], plain["rt_total_ms"], plain["n_views"]) == (2250, 2250, 1)


def test_the_leave_beacon_and_the_export_columns(client: TestClient) -> None:
    csrf = start(client)
    page = client.get("/trial").text
    assert client.post("/trial/leave", data={"csrf": csrf, "view_id": hidden(page, "view_id")}).status_code == 204
    assert answer(client, csrf, blurs="3").status_code == 303  # shown again: a second view
    assert answer(client, csrf, confidence_touched="0").status_code == 303
    export = participant_data(client)
    assert list(export["click_outside"]) == ["clicked", ""]  # the paper's values
    assert (
        list(export["click_outside_count"]) == [3, 0]
        and list(export["trial"]) == [1, 2]
        and list(export["resumed"]) == [1, 0]
    )
    assert list(export["click_slider"]) == [1, 0] and (export["rt"] <= export["rt_total"]).all()


@pytest.mark.parametrize("flag", ["-7", "2", "maybe", ""])
def test_slider_flags_are_booleans(client: TestClient, flag: str) -> None:
    csrf = start(client)
    response = answer(client, csrf, confidence_touched=flag)
    assert response.status_code == 422 and "confidence flag must be 0 or 1" in response.text
    assert participant_data(client).empty


def test_the_profile_locks_once_a_trial_is_shown(client: TestClient) -> None:
    csrf = start(client)
    assert (
        client.post("/profile", data={"csrf": csrf, **PROFILE, "country": "Chile"}).status_code == 303
    )  # no trial shown yet
    client.get("/trial")
    response = client.post("/profile", data={"csrf": csrf, **PROFILE, "country": "Peru"})
    assert response.status_code == 409 and "cannot change once the trials have started" in response.text
    assert client.get("/profile").headers["location"] == "/trial"
    answer(client, csrf)
    assert list(participant_data(client)["country"]) == ["Chile"]


def test_finished_counts_each_participants_own_trials(store: StudyStore) -> None:
    app_ = create_app(store, TOKEN)
    for _ in range(2):  # two participants with 2 trials each, both finished
        participant = TestClient(app_, follow_redirects=False)
        csrf = start(participant)
        answer(participant, csrf)
        answer(participant, csrf)
    admin = TestClient(app_, follow_redirects=False)
    admin.post("/admin/setup", headers=AUTH, data={"csrf": csrf_of(admin.get("/").text), "trials": "3"})
    assert store.trials_per_participant == 3
    page = admin.get("/admin", headers=AUTH).text
    assert "2 (2 finished)" in page and "0–1 over 200 items" in page and "built-in method" not in page


def test_consent_text_comes_from_the_investigators_markdown(store: StudyStore) -> None:
    consent = "## Memory study\n\nIt takes **20 minutes**. Questions: lab@example.org <script>alert(1)</script>\n"
    page = TestClient(create_app(store, TOKEN, consent=consent)).get("/").text
    assert "<h2>Memory study</h2>" in page and "<strong>20 minutes</strong>" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page  # HTML in the file is shown, not run
    default = TestClient(create_app(store, TOKEN)).get("/").text
    assert default.count("[Fill in:") == 6 and "Ethics approval" in default


def test_consent_file_option(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["study", "consent-template"])
    assert result.exit_code == 0 and result.stdout == DEFAULT_CONSENT
    result = runner.invoke(
        app, ["study", "serve", "--consent", str(tmp_path / "missing.md"), "--db", str(tmp_path / "s.sqlite")]
    )
    assert result.exit_code == 1 and "missing.md" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "empty.md").write_text("  \n")
    result = runner.invoke(
        app, ["study", "serve", "--consent", str(tmp_path / "empty.md"), "--db", str(tmp_path / "s.sqlite")]
    )
    assert result.exit_code == 1 and "empty.md" in result.stderr and "empty" in result.stderr


def test_a_missing_field_answers_a_page_that_keeps_what_was_entered(client: TestClient) -> None:
    csrf = consent(client)
    response = client.post("/profile", data={"csrf": csrf, **PROFILE, "country": "", "age": "7"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "Country: the country you work in" in response.text and "Age: a whole number from 18 to 100" in response.text
    assert 'name="age" type="number" min="18" max="100" required value="7"' in response.text
    assert re.search(r'<option value="Postdoc" selected>', response.text)
    assert client.post("/profile", data={"csrf": csrf, **PROFILE}).status_code == 303
    page = client.get("/trial").text
    response = client.post(
        "/trial",
        data={
            "csrf": csrf,
            "position": hidden(page, "position"),
            "item_id": hidden(page, "item_id"),
            "confidence": "80",
            "expertise": "30",
            "confidence_touched": "1",
            "recognised": "yes",
        },
    )
    assert response.status_code == 422 and "Choose abstract A or abstract B." in response.text
    assert (
        'id="confidence-value" for="confidence">80 of 100</output>' in response.text
        and 'value="yes" checked' in response.text
        and 'id="expertise-value" for="expertise">not answered yet</output>' in response.text
    )
    assert hidden(response.text, "view_id") == hidden(page, "view_id")  # the same view goes on
    response = client.post("/admin/setup", headers=AUTH, data={"csrf": csrf, "trials": "many"})
    assert (
        response.status_code == 422
        and response.headers["content-type"].startswith("text/html")
        and "trials:" in response.text
    )


def test_a_database_of_an_older_study_schema_is_refused(human: Dataset, tmp_path: Path) -> None:
    store = StudyStore(tmp_path / "study.sqlite", human)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM study_settings WHERE key = 'schema_version'"
        )  # as brainbench wrote it before views
    with pytest.raises(StudyError, match="made by an older brainbench \\(study schema 1, this one needs 2\\)"):
        StudyStore(tmp_path / "study.sqlite", human)
