"""The study's database: participants, their trials, each view of a trial, and the responses.

Every response is committed when submitted; (participant, position) is the key of a response, so a
trial cannot be answered twice. A participant's trials are *planned* when they consent (how many, which
subfield at which position, where the catch trial goes: ``assign.plan_trials``), and each trial's item is
*assigned* when the trial is first shown, to an item with the fewest responses (``assign.choose_item``).
A trial shown but not answered holds its item for ``hold_s`` after the participant's last sign of life
on it; then the item counts as free again, and if the participant comes back to that trial while the
item has become one of the most answered, the trial gets another item. So a participant who drops out
gives their items back, and responses per item stay within one of each other.

Each time a trial's page is served is a *view*; a page left without answering ends its view (the
page's beacon), so the reaction time counts only the time the trial was on screen. Catch trials
(obvious items from another file, to screen attention) get negative item ids and are exported apart.

The store raises :class:`StudyError` subclasses; the web app maps them to HTTP status codes.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from brainbench.data import Dataset, TestCase
from brainbench.db import open_database, utc_now
from brainbench.errors import BrainbenchError
from brainbench.study.assign import CATCH, Plan, altered_first, assign_item, plan_trials
from brainbench.study.forms import Answer, Profile

SCHEMA_VERSION = "2"  # 2: views of trials, per-participant order seeds (later columns are added on open)
_ASSIGNMENT_LOCK_KEY = 0x6262_7374_7564  # a fixed PostgreSQL advisory lock id for assigning trials
HOLD_S = 15 * 60  # a trial on screen holds its item this long after the participant's last sign of life on it


class StudyError(BrainbenchError):
    """A request the study refuses, or a study database that cannot be used."""


class NoSession(StudyError):
    """No participant cookie, or one this study does not know."""


class NotYourTrial(StudyError):
    """An answer to a trial that is not the participant's, or not shown to them yet."""


class AlreadyAnswered(StudyError):
    """A second answer to the same trial."""


class ProfileLocked(StudyError):
    """The profile cannot change once the first trial was shown."""


class InvalidSetting(StudyError):
    """An admin setting out of range."""


metadata = sa.MetaData()
settings_table = sa.Table(
    "study_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
participants_table = sa.Table(
    "participants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token", sa.String(64), unique=True, nullable=False),  # the participant's cookie: a secret
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("order_seed", sa.BigInteger, nullable=False),  # the plan and A/B sides: assign.plan_trials, altered_first
    sa.Column("age", sa.Integer),
    sa.Column("country", sa.String(100)),
    sa.Column("current_position", sa.String(64)),
    sa.Column("experience", sa.Integer),
    sa.Column("sex", sa.String(32)),
    sa.Column("n_trials", sa.Integer),  # trials planned, the catch trial included (None: assigned at consent)
    sa.Column("plan", sa.Text),  # JSON assign.Plan (None: a participant of an older version, assigned at consent)
)
assignments_table = sa.Table(
    "assignments",
    metadata,
    sa.Column("participant_id", sa.Integer, sa.ForeignKey("participants.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Integer, nullable=False),
    sa.Column("altered_first", sa.Boolean, nullable=False),  # the altered abstract is shown as A
)
views_table = sa.Table(
    "views",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("participant_id", sa.Integer, sa.ForeignKey("participants.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),  # server clock when the page was served
    sa.Column("ended_at", sa.Float),  # when the page was left unanswered (its beacon); None: answered, or unknown
    sa.Column("item_id", sa.Integer),  # the item shown (None: a view from before items could change)
    sa.Index("views_by_trial", "participant_id", "position"),
)
responses_table = sa.Table(
    "responses",
    metadata,
    sa.Column("participant_id", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Integer, nullable=False),
    sa.Column("choice", sa.String(1), nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("confidence", sa.Integer, nullable=False),
    sa.Column("expertise", sa.Integer, nullable=False),
    sa.Column("confidence_touched", sa.Boolean, nullable=False),
    sa.Column("expertise_touched", sa.Boolean, nullable=False),
    sa.Column("recognised", sa.Boolean, nullable=False),
    sa.Column("rt_ms", sa.Integer, nullable=False),  # active time: the trial on screen
    sa.Column("rt_total_ms", sa.Integer, nullable=False),  # first view to answer, time away included
    sa.Column("n_views", sa.Integer, nullable=False),
    sa.Column("blurs", sa.Integer, nullable=False),
    sa.Column("submitted_at", sa.String(32), nullable=False),
    sa.Column("layout", sa.String(16)),  # "side-by-side" or "differences" (a narrow screen); None: not recorded
)
# columns added after schema 2 was released: added to an older database when it is opened
_LATER_COLUMNS = {
    participants_table: ("n_trials", "plan"),
    views_table: ("item_id",),
    responses_table: ("layout",),
}


@dataclass(frozen=True)
class Trial:
    position: int
    total: int
    item_id: int  # the test case's id, or a catch trial's (negative)
    case: TestCase
    altered_first: bool
    view_id: int | None  # this showing of the trial (None: not shown yet)

    @property
    def texts(self) -> tuple[str, str]:
        """(A, B) as shown."""
        return (
            (self.case.altered, self.case.original) if self.altered_first else (self.case.original, self.case.altered)
        )


@dataclass(frozen=True)
class Progress:
    participants: int
    finished: int  # answered every trial they were given
    responses: int
    n_items: int
    responses_per_item_min: int
    responses_per_item_max: int
    catch_trials: int
    catch_correct: int
    items_by_responses: dict[int, int] = field(default_factory=dict)  # responses -> how many items have that many
    on_screen: int = 0  # trials shown and not answered whose items are held now
    hold_s: float = HOLD_S


def active_seconds(views: Sequence[tuple[float, float | None]], answered_at: float) -> float:
    """Time a trial was on screen: each ``(started_at, ended_at)`` view until it was left (or until the
    next view started, if its beacon came later than that), and the last view until the answer. A view
    left without a recorded end (no beacon: a crash) counts nothing."""
    ordered = sorted(views)
    earlier = 0.0
    for (start, end), (next_start, _) in itertools.pairwise(ordered):
        if end is not None:
            earlier += max(0.0, min(end, next_start) - start)
    return earlier + max(0.0, answered_at - ordered[-1][0])


def _add_later_columns(connection: sa.Connection) -> None:
    inspector = sa.inspect(connection)
    for table, names in _LATER_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for name in names:
            if name not in present:
                column = table.c[name]
                kind = column.type.compile(dialect=connection.dialect)
                connection.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


class StudyStore:
    def __init__(
        self,
        location: str | Path,
        dataset: Dataset,
        trials_per_participant: int = 9,
        seed: int | None = None,
        catch: Dataset | None = None,
        hold_s: float = HOLD_S,
    ) -> None:
        self.engine, self.display_url = open_database(location, metadata, StudyError, "study database")
        self.dataset = dataset
        self.cases = {case.item_id: case for case in dataset.cases}
        self.subfields = {item_id: case.subfield for item_id, case in self.cases.items()}
        # catch trials: item ids -1, -2, ... (one per participant, at a random position)
        self.catch_cases = {-1 - index: case for index, case in enumerate(catch.cases)} if catch is not None else {}
        self.random = random.Random(seed)
        self.hold_s = hold_s
        with self.engine.begin() as connection:
            stored = dict(connection.execute(sa.select(settings_table.c.key, settings_table.c.value)).all())
            if stored.get("dataset_sha256") not in (None, dataset.sha256):
                raise StudyError(
                    f"{self.display_url} holds a study of another test set ({stored.get('dataset')}); use another --db"
                )
            schema = stored.get("schema_version", "1" if stored else SCHEMA_VERSION)
            if schema != SCHEMA_VERSION:
                raise StudyError(
                    f"{self.display_url} was made by an older brainbench (study schema {schema}, this one needs "
                    f"{SCHEMA_VERSION}): export its data with that version, and start this study in a new --db"
                )
            _add_later_columns(connection)
            defaults = {
                "dataset": dataset.name,
                "dataset_sha256": dataset.sha256,
                "schema_version": SCHEMA_VERSION,
                "trials_per_participant": str(trials_per_participant),
                "secret_key": secrets.token_hex(32),
            }
            for key, value in defaults.items():
                if key not in stored:
                    connection.execute(sa.insert(settings_table).values(key=key, value=value))
        self.trials_per_participant = int(self.setting("trials_per_participant"))
        self.secret_key = bytes.fromhex(
            self.setting("secret_key")
        )  # signs the pages' CSRF tokens and the admin's session; kept across restarts

    def setting(self, key: str, default: str | None = None) -> str:
        with self.engine.begin() as connection:
            value = connection.execute(
                sa.select(settings_table.c.value).where(settings_table.c.key == key)
            ).scalar_one_or_none()
        if value is None:
            if default is None:
                raise StudyError(f"{self.display_url} has no setting {key!r}")
            return default
        return value

    def put_setting(self, key: str, value: str) -> None:
        with self.engine.begin() as connection:
            if connection.execute(sa.select(settings_table.c.key).where(settings_table.c.key == key)).first():
                connection.execute(sa.update(settings_table).where(settings_table.c.key == key).values(value=value))
            else:
                connection.execute(sa.insert(settings_table).values(key=key, value=value))

    def set_trials_per_participant(self, count: int) -> None:
        """Trials for participants who consent from now on (those already planned keep theirs)."""
        if not 1 <= count <= len(self.cases):
            raise InvalidSetting(f"trials per participant must be between 1 and {len(self.cases)}")
        self.put_setting("trials_per_participant", str(count))
        self.trials_per_participant = count

    # participants

    def add_participant(self, clock: float | None = None) -> str:
        """A new participant with their trials planned (items come when each trial is shown; ``clock``: now);
        returns their secret token."""
        token = secrets.token_urlsafe(32)
        order_seed = self.random.getrandbits(62)
        with self.engine.begin() as connection:
            held = self._held_items(connection, time.time() if clock is None else clock)
            counts = self._response_counts(connection) + held
            plan = plan_trials(
                self.subfields, counts, self.trials_per_participant, order_seed, self.random, sorted(self.catch_cases)
            )
            connection.execute(
                sa.insert(participants_table).values(
                    token=token,
                    created_at=utc_now(),
                    order_seed=order_seed,
                    n_trials=len(plan.subfields),
                    plan=json.dumps(plan.to_json()),
                )
            )
        return token

    def participant_id(self, token: str | None) -> int:
        if not token:
            raise NoSession("no participant session: start from the consent page")
        with self.engine.begin() as connection:
            found = connection.execute(
                sa.select(participants_table.c.id).where(participants_table.c.token == token)
            ).scalar_one_or_none()
        if found is None:
            raise NoSession("unknown participant session: start from the consent page")
        return found

    def has_profile(self, participant: int) -> bool:
        with self.engine.begin() as connection:
            return (
                connection.execute(
                    sa.select(participants_table.c.age).where(participants_table.c.id == participant)
                ).scalar_one()
                is not None
            )

    def profile_locked(self, participant: int) -> bool:
        """Whether a trial was shown already: from then on the profile stays as it was."""
        with self.engine.begin() as connection:
            return (
                connection.execute(
                    sa.select(views_table.c.id).where(views_table.c.participant_id == participant).limit(1)
                ).first()
                is not None
            )

    def save_profile(self, participant: int, profile: Profile) -> None:
        with self.engine.begin() as connection:
            if connection.execute(
                sa.select(views_table.c.id).where(views_table.c.participant_id == participant).limit(1)
            ).first():
                raise ProfileLocked("your profile cannot change once the trials have started")
            connection.execute(
                sa.update(participants_table)
                .where(participants_table.c.id == participant)
                .values(
                    age=profile.age,
                    country=profile.country,
                    current_position=profile.position,
                    experience=profile.experience,
                    sex=profile.sex,
                )
            )

    # trials

    def next_trial(self, participant: int, clock: float) -> Trial | None:
        """The first unanswered trial, shown now (a new view; its item is assigned now if it has none, or
        changed if the trial's hold lapsed and its item has become one of the most answered), or None when
        all are done."""
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":  # one assignment at a time (SQLite's BEGIN IMMEDIATE is)
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ASSIGNMENT_LOCK_KEY})
            person = self._participant(connection, participant)
            trial = self._pending(connection, participant, person)
            if trial is None:
                return None
            trial = self._assign(connection, participant, trial, clock, person)
            view_id = connection.execute(
                sa.insert(views_table).values(
                    participant_id=participant, position=trial.position, started_at=clock, item_id=trial.item_id
                )
            ).inserted_primary_key[0]
        return Trial(trial.position, trial.total, trial.item_id, trial.case, trial.altered_first, view_id)

    def current_trial(self, participant: int) -> Trial | None:
        """The first unanswered trial as it is being shown (no new view), or None when all are done; its
        ``view_id`` is None when it has not been shown yet."""
        with self.engine.begin() as connection:
            trial = self._pending(connection, participant, self._participant(connection, participant))
        return None if trial is None or trial.item_id is None else trial  # type: ignore[comparison-overlap]

    def _participant(self, connection: sa.Connection, participant: int) -> dict[str, Any]:
        row = connection.execute(
            sa.select(participants_table.c.order_seed, participants_table.c.n_trials, participants_table.c.plan).where(
                participants_table.c.id == participant
            )
        ).one()
        return {
            "order_seed": row[0],
            "n_trials": row[1],
            "plan": None if row[2] is None else Plan.from_json(json.loads(row[2])),
        }

    def _pending(self, connection: sa.Connection, participant: int, person: dict[str, Any]) -> Trial | None:
        """The first unanswered trial as stored (``item_id`` None when it has no item yet)."""
        answered = set(
            connection.execute(
                sa.select(responses_table.c.position).where(responses_table.c.participant_id == participant)
            ).scalars()
        )
        rows = {
            row["position"]: row
            for row in connection.execute(
                sa.select(assignments_table).where(assignments_table.c.participant_id == participant)
            ).mappings()
        }
        total = person["n_trials"] or len(rows)
        position = next((position for position in range(total) if position not in answered), None)
        if position is None:
            return None
        row = rows.get(position)
        if row is None:
            return Trial(position, total, None, None, False, None)  # type: ignore[arg-type]
        view_id = connection.execute(
            sa.select(sa.func.max(views_table.c.id)).where(
                (views_table.c.participant_id == participant) & (views_table.c.position == position)
            )
        ).scalar_one()
        return Trial(position, total, row["item_id"], self.case(row["item_id"]), row["altered_first"], view_id)

    def _assign(
        self, connection: sa.Connection, participant: int, trial: Trial, clock: float, person: dict[str, Any]
    ) -> Trial:
        """``trial`` with an item: the one it has, or (no item yet, or a lapsed hold on an item that has become
        one of the most answered) one of the least answered, stored."""
        plan: Plan | None = person["plan"]
        if plan is None:  # a participant of an older version: their items were assigned at consent
            return trial
        planned = plan.subfields[trial.position]
        if planned == CATCH and plan.catch_item in self.catch_cases:
            if trial.item_id is None:
                return self._store_assignment(connection, participant, trial, plan.catch_item, person, new=True)
            return trial  # a catch item holds nothing: it is not one of the items being balanced
        if trial.item_id is not None and trial.item_id < 0:
            return trial
        held = self._held_items(connection, clock, exclude=participant)
        counts = self._response_counts(connection) + held
        if trial.item_id is not None:
            active = connection.execute(
                sa.select(sa.func.max(sa.func.coalesce(views_table.c.ended_at, views_table.c.started_at))).where(
                    (views_table.c.participant_id == participant) & (views_table.c.position == trial.position)
                )
            ).scalar_one()
            if active is None or active >= clock - self.hold_s:
                return trial  # still held: the participant is on it
            level = min(counts.get(item, 0) for item in self.cases)
            if counts.get(trial.item_id, 0) <= level:
                return trial  # lapsed, but still among the least answered: keep it
        given = set(
            connection.execute(
                sa.union(
                    sa.select(assignments_table.c.item_id).where(assignments_table.c.participant_id == participant),
                    sa.select(views_table.c.item_id).where(
                        (views_table.c.participant_id == participant) & views_table.c.item_id.is_not(None)
                    ),
                )
            ).scalars()
        )
        item, new_plan = assign_item(plan, trial.position, counts, given, self.subfields, self.random)
        if new_plan != plan:  # the plan's subfields swapped: recorded, so later trials follow it
            connection.execute(
                sa.update(participants_table)
                .where(participants_table.c.id == participant)
                .values(plan=json.dumps(new_plan.to_json()))
            )
        return self._store_assignment(connection, participant, trial, item, person, new=trial.item_id is None)

    def _store_assignment(
        self, connection: sa.Connection, participant: int, trial: Trial, item: int, person: dict[str, Any], new: bool
    ) -> Trial:
        first = altered_first(person["order_seed"], trial.position)
        if new:
            connection.execute(
                sa.insert(assignments_table).values(
                    participant_id=participant, position=trial.position, item_id=item, altered_first=first
                )
            )
        else:
            connection.execute(
                sa.update(assignments_table)
                .where(
                    (assignments_table.c.participant_id == participant)
                    & (assignments_table.c.position == trial.position)
                )
                .values(item_id=item, altered_first=first)
            )
        return Trial(trial.position, trial.total, item, self.case(item), first, None)

    def _response_counts(self, connection: sa.Connection) -> Counter[int]:
        return Counter(
            dict(
                connection.execute(
                    sa.select(responses_table.c.item_id, sa.func.count())
                    .where(responses_table.c.item_id >= 0)
                    .group_by(responses_table.c.item_id)
                ).all()
            )
        )

    def _held_items(self, connection: sa.Connection, clock: float, exclude: int | None = None) -> Counter[int]:
        """Items of trials shown and not answered whose participant showed a sign of life within ``hold_s``."""
        answered = (responses_table.c.participant_id == assignments_table.c.participant_id) & (
            responses_table.c.position == assignments_table.c.position
        )
        shown = (
            (views_table.c.participant_id == assignments_table.c.participant_id)
            & (views_table.c.position == assignments_table.c.position)
            & (views_table.c.item_id.is_(None) | (views_table.c.item_id == assignments_table.c.item_id))
        )
        since = clock - self.hold_s
        query = (
            sa.select(assignments_table.c.item_id, assignments_table.c.participant_id)
            .select_from(assignments_table.outerjoin(responses_table, answered).join(views_table, shown))
            .where(responses_table.c.position.is_(None) & (assignments_table.c.item_id >= 0))
            .group_by(assignments_table.c.participant_id, assignments_table.c.position, assignments_table.c.item_id)
            .having(sa.func.max(sa.func.coalesce(views_table.c.ended_at, views_table.c.started_at)) >= since)
        )
        return Counter(item for item, who in connection.execute(query).all() if who != exclude)

    def leave(self, participant: int, view_id: int, clock: float) -> None:
        """The participant left the page of ``view_id`` without answering: that view ends now."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(views_table)
                .where(
                    (views_table.c.id == view_id)
                    & (views_table.c.participant_id == participant)
                    & views_table.c.ended_at.is_(None)
                )
                .values(ended_at=clock)
            )

    def case(self, item_id: int) -> TestCase:
        return self.catch_cases[item_id] if item_id < 0 else self.cases[item_id]

    def submit(self, participant: int, answer: Answer, clock: float) -> bool:
        """Record one answer; returns whether it was correct. Refuses forged or unshown trials and replays."""
        key = (responses_table.c.participant_id == participant) & (responses_table.c.position == answer.position)
        try:
            with self.engine.begin() as connection:
                assignment = (
                    connection.execute(
                        sa.select(assignments_table).where(
                            (assignments_table.c.participant_id == participant)
                            & (assignments_table.c.position == answer.position)
                        )
                    )
                    .mappings()
                    .one_or_none()
                )
                if assignment is None or assignment["item_id"] != answer.item_id:
                    raise NotYourTrial("this trial is not one of yours")
                views = connection.execute(
                    sa.select(views_table.c.started_at, views_table.c.ended_at)
                    .where(
                        (views_table.c.participant_id == participant)
                        & (views_table.c.position == answer.position)
                        & (views_table.c.item_id.is_(None) | (views_table.c.item_id == answer.item_id))
                    )
                    .order_by(views_table.c.started_at, views_table.c.id)
                ).all()
                if not views:
                    raise NotYourTrial("this trial has not been shown yet")
                if connection.execute(sa.select(responses_table.c.position).where(key)).first() is not None:
                    raise AlreadyAnswered("this trial is already answered")
                correct = (answer.choice == "A") != bool(assignment["altered_first"])
                rt_total_s = clock - views[0][0]
                connection.execute(
                    sa.insert(responses_table).values(
                        participant_id=participant,
                        position=answer.position,
                        item_id=answer.item_id,
                        choice=answer.choice,
                        correct=correct,
                        confidence=answer.confidence,
                        expertise=answer.expertise,
                        confidence_touched=answer.confidence_touched,
                        expertise_touched=answer.expertise_touched,
                        recognised=answer.recognised,
                        rt_ms=_ms(min(active_seconds([tuple(view) for view in views], clock), rt_total_s)),
                        rt_total_ms=_ms(rt_total_s),
                        n_views=len(views),
                        blurs=answer.blurs,
                        submitted_at=utc_now(),
                        layout=answer.layout,
                    )
                )
        except sa.exc.IntegrityError:  # the same answer sent twice at once: the key lets one in
            raise AlreadyAnswered("this trial is already answered") from None
        return correct

    # admin

    def progress(self, clock: float | None = None) -> Progress:
        """Participants, responses, and the balance: how many items have how many responses, and how many
        trials are on screen now (their items held), at ``clock`` (default: now)."""
        clock = time.time() if clock is None else clock
        with self.engine.begin() as connection:
            people = connection.execute(sa.select(participants_table.c.id, participants_table.c.n_trials)).all()
            answered = dict(
                connection.execute(
                    sa.select(responses_table.c.participant_id, sa.func.count()).group_by(
                        responses_table.c.participant_id
                    )
                ).all()
            )
            assigned = dict(
                connection.execute(
                    sa.select(assignments_table.c.participant_id, sa.func.count()).group_by(
                        assignments_table.c.participant_id
                    )
                ).all()
            )
            per_item = self._response_counts(connection)
            held = self._held_items(connection, clock)
            catch = connection.execute(
                sa.select(sa.func.count(), sa.func.sum(sa.cast(responses_table.c.correct, sa.Integer))).where(
                    responses_table.c.item_id < 0
                )
            ).one()
        finished = sum(
            1 for person, n_trials in people if (n_trials or assigned.get(person, 0)) == answered.get(person, 0) > 0
        )
        counts = [per_item.get(item_id, 0) for item_id in self.cases]
        return Progress(
            participants=len(people),
            finished=finished,
            responses=sum(answered.values()),
            n_items=len(self.cases),
            responses_per_item_min=min(counts),
            responses_per_item_max=max(counts),
            catch_trials=catch[0],
            catch_correct=int(catch[1] or 0),
            items_by_responses=dict(sorted(Counter(counts).items())),
            on_screen=sum(held.values()),
            hold_s=self.hold_s,
        )

    def responses(self, catch: bool = False) -> list[dict[str, Any]]:
        """Every response (of test items, or of catch items) with its participant's profile, in answering order."""
        query = (
            sa.select(
                responses_table,
                participants_table.c.age,
                participants_table.c.country,
                participants_table.c.current_position,
                participants_table.c.experience,
                participants_table.c.sex,
            )
            .join(participants_table, participants_table.c.id == responses_table.c.participant_id)
            .where(responses_table.c.item_id < 0 if catch else responses_table.c.item_id >= 0)
            .order_by(responses_table.c.participant_id, responses_table.c.position)
        )
        with self.engine.begin() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]


def _ms(seconds: float) -> int:
    return max(0, round(1000 * seconds))
