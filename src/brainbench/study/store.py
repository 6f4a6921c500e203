"""The study's database: participants, their assigned trials, each view of a trial, and the responses.

Every response is committed when submitted; (participant, position) is the key of a response, so a
trial cannot be answered twice. Trials are assigned when a participant consents (see ``assign``).
Each time a trial's page is served is a *view*; a page left without answering ends its view (the
page's beacon), so the reaction time counts only the time the trial was on screen. Catch trials
(obvious items from another file, to screen attention) get negative item ids and are exported apart.

The store raises :class:`StudyError` subclasses; the web app maps them to HTTP status codes.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from brainbench.data import Dataset, TestCase
from brainbench.db import open_database, utc_now
from brainbench.errors import BrainbenchError
from brainbench.study.assign import balanced_items, order_trials
from brainbench.study.forms import Answer, Profile

SCHEMA_VERSION = "2"  # 2: views of trials, per-participant order seeds
_ASSIGNMENT_LOCK_KEY = 0x6262_7374_7564  # a fixed PostgreSQL advisory lock id for assigning trials


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
    sa.Column("order_seed", sa.BigInteger, nullable=False),  # the trial order: assign.order_trials(items, order_seed)
    sa.Column("age", sa.Integer),
    sa.Column("country", sa.String(100)),
    sa.Column("current_position", sa.String(64)),
    sa.Column("experience", sa.Integer),
    sa.Column("sex", sa.String(32)),
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
)


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
    finished: int  # answered every trial they were assigned
    responses: int
    n_items: int
    responses_per_item_min: int
    responses_per_item_max: int
    catch_trials: int
    catch_correct: int


def active_seconds(views: Sequence[tuple[float, float | None]], answered_at: float) -> float:
    """Time a trial was on screen: each ``(started_at, ended_at)`` view until it was left, and the last
    view until the answer. A view left without a recorded end (no beacon: a crash) counts nothing."""
    earlier = sum(end - start for start, end in views[:-1] if end is not None)
    return earlier + answered_at - views[-1][0]


class StudyStore:
    def __init__(
        self,
        location: str | Path,
        dataset: Dataset,
        trials_per_participant: int = 9,
        seed: int | None = None,
        catch: Dataset | None = None,
    ) -> None:
        self.engine, self.display_url = open_database(location, metadata, StudyError, "study database")
        self.dataset = dataset
        self.cases = {case.item_id: case for case in dataset.cases}
        self.subfields = {item_id: case.subfield for item_id, case in self.cases.items()}
        # catch trials: item ids -1, -2, ... (one per participant, at a random position)
        self.catch_cases = {-1 - index: case for index, case in enumerate(catch.cases)} if catch is not None else {}
        self.random = random.Random(seed)
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
        )  # signs the pages' CSRF tokens; kept across restarts

    def setting(self, key: str) -> str:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(settings_table.c.value).where(settings_table.c.key == key)).scalar_one()

    def set_trials_per_participant(self, count: int) -> None:
        """Trials for participants who consent from now on (those already assigned keep theirs)."""
        if not 1 <= count <= len(self.cases):
            raise InvalidSetting(f"trials per participant must be between 1 and {len(self.cases)}")
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(settings_table)
                .where(settings_table.c.key == "trials_per_participant")
                .values(value=str(count))
            )
        self.trials_per_participant = count

    # participants

    def add_participant(self) -> str:
        """A new participant with their trials assigned; returns their secret token."""
        token = secrets.token_urlsafe(32)
        order_seed = self.random.getrandbits(62)
        with self.engine.begin() as connection:
            # One assignment at a time, so that each sees the others' counts: SQLite's BEGIN IMMEDIATE
            # already serialises writers; PostgreSQL needs a lock.
            if self.engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ASSIGNMENT_LOCK_KEY})
            participant = connection.execute(
                sa.insert(participants_table).values(token=token, created_at=utc_now(), order_seed=order_seed)
            ).inserted_primary_key[0]
            counts = dict(
                connection.execute(
                    sa.select(assignments_table.c.item_id, sa.func.count()).group_by(assignments_table.c.item_id)
                ).all()
            )
            chosen = balanced_items(self.subfields, counts, self.trials_per_participant, self.random)
            if self.catch_cases:
                chosen.append(self.random.choice(sorted(self.catch_cases)))
            connection.execute(
                sa.insert(assignments_table),
                [
                    {
                        "participant_id": participant,
                        "position": position,
                        "item_id": item_id,
                        "altered_first": altered_first,
                    }
                    for position, (item_id, altered_first) in enumerate(order_trials(chosen, order_seed))
                ],
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
        """The first unanswered trial, shown now (a new view), or None when all are done."""
        with self.engine.begin() as connection:
            trial = self._pending(connection, participant)
            if trial is None:
                return None
            view_id = connection.execute(
                sa.insert(views_table).values(participant_id=participant, position=trial.position, started_at=clock)
            ).inserted_primary_key[0]
        return Trial(trial.position, trial.total, trial.item_id, trial.case, trial.altered_first, view_id)

    def current_trial(self, participant: int) -> Trial | None:
        """The first unanswered trial as it is being shown (no new view), or None when all are done."""
        with self.engine.begin() as connection:
            return self._pending(connection, participant)

    def _pending(self, connection: sa.Connection, participant: int) -> Trial | None:
        answered = set(
            connection.execute(
                sa.select(responses_table.c.position).where(responses_table.c.participant_id == participant)
            ).scalars()
        )
        rows = (
            connection.execute(
                sa.select(assignments_table)
                .where(assignments_table.c.participant_id == participant)
                .order_by(assignments_table.c.position)
            )
            .mappings()
            .all()
        )
        pending = [row for row in rows if row["position"] not in answered]
        if not pending:
            return None
        row = pending[0]
        view_id = connection.execute(
            sa.select(sa.func.max(views_table.c.id)).where(
                (views_table.c.participant_id == participant) & (views_table.c.position == row["position"])
            )
        ).scalar_one()
        return Trial(
            row["position"], len(rows), row["item_id"], self.case(row["item_id"]), row["altered_first"], view_id
        )

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
                    .where((views_table.c.participant_id == participant) & (views_table.c.position == answer.position))
                    .order_by(views_table.c.started_at, views_table.c.id)
                ).all()
                if not views:
                    raise NotYourTrial("this trial has not been shown yet")
                if connection.execute(sa.select(responses_table.c.position).where(key)).first() is not None:
                    raise AlreadyAnswered("this trial is already answered")
                correct = (answer.choice == "A") != bool(assignment["altered_first"])
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
                        rt_ms=_ms(active_seconds([tuple(view) for view in views], clock)),
                        rt_total_ms=_ms(clock - views[0][0]),
                        n_views=len(views),
                        blurs=answer.blurs,
                        submitted_at=utc_now(),
                    )
                )
        except sa.exc.IntegrityError:  # the same answer sent twice at once: the key lets one in
            raise AlreadyAnswered("this trial is already answered") from None
        return correct

    # admin

    def progress(self) -> Progress:
        answered = (responses_table.c.participant_id == assignments_table.c.participant_id) & (
            responses_table.c.position == assignments_table.c.position
        )
        finished = (
            sa.select(assignments_table.c.participant_id)
            .select_from(assignments_table.outerjoin(responses_table, answered))
            .group_by(assignments_table.c.participant_id)
            .having(sa.func.count(responses_table.c.position) == sa.func.count())
        )
        with self.engine.begin() as connection:
            participants = connection.execute(sa.select(sa.func.count()).select_from(participants_table)).scalar_one()
            responses = connection.execute(sa.select(sa.func.count()).select_from(responses_table)).scalar_one()
            n_finished = connection.execute(sa.select(sa.func.count()).select_from(finished.subquery())).scalar_one()
            per_item = dict(
                connection.execute(
                    sa.select(responses_table.c.item_id, sa.func.count()).group_by(responses_table.c.item_id)
                ).all()
            )
            catch = connection.execute(
                sa.select(sa.func.count(), sa.func.sum(sa.cast(responses_table.c.correct, sa.Integer))).where(
                    responses_table.c.item_id < 0
                )
            ).one()
        counts = [per_item.get(item_id, 0) for item_id in self.cases]
        return Progress(
            participants=participants,
            finished=n_finished,
            responses=responses,
            n_items=len(self.cases),
            responses_per_item_min=min(counts),
            responses_per_item_max=max(counts),
            catch_trials=catch[0],
            catch_correct=int(catch[1] or 0),
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
