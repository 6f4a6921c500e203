"""The study's database: participants, their assigned trials and their responses.

Every response is committed when submitted; (participant, position) is the key of a response, so
a trial cannot be answered twice. Trials are assigned when a participant consents: the items with
the fewest assignments so far, subfields mixed, the A/B order drawn per trial. Catch trials (obvious
items from another file, to screen attention) get negative item ids and are exported apart.
"""

from __future__ import annotations

import csv
import io
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from brainbench.data import Dataset, TestCase
from brainbench.db import open_database
from brainbench.web import PageError

POSITIONS = ("PhD student", "Postdoc", "Faculty/Academic staff", "Research scientist", "Undergraduate student",
             "Master's student", "Clinician", "__other")
SEXES = ("Female", "Male", "Non-binary", "Prefer not to say", "Other")
# participant_data.csv, column for column (its first, unnamed column is the row number)
EXPORT_COLUMNS = ["", "pid", "expertise", "confidence", "click_outside", "correct", "rt", "abstract_id", "journal_section",
                  "click_slider", "recognised", "age", "country", "current position", "experience", "sex"]

_ASSIGNMENT_LOCK_KEY = 0x6262_7374_7564  # a fixed PostgreSQL advisory lock id for assigning trials
metadata = sa.MetaData()
settings_table = sa.Table(
    "study_settings", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
participants_table = sa.Table(
    "participants", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token", sa.String(64), unique=True, nullable=False),  # the participant's cookie: a secret
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("age", sa.Integer),
    sa.Column("country", sa.String(100)),
    sa.Column("current_position", sa.String(64)),
    sa.Column("experience", sa.Integer),
    sa.Column("sex", sa.String(32)),
)
assignments_table = sa.Table(
    "assignments", metadata,
    sa.Column("participant_id", sa.Integer, sa.ForeignKey("participants.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Integer, nullable=False),
    sa.Column("altered_first", sa.Boolean, nullable=False),  # the altered abstract is shown as A
    sa.Column("shown_at", sa.Float),  # server clock when the trial was first shown
)
responses_table = sa.Table(
    "responses", metadata,
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
    sa.Column("rt_ms", sa.Integer, nullable=False),
    sa.Column("blurs", sa.Integer, nullable=False),
    sa.Column("submitted_at", sa.String(32), nullable=False),
)


class StudyError(PageError):
    """A request the study refuses; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True)
class Trial:
    position: int
    total: int
    item_id: int  # the test case's id, or a catch trial's (negative)
    case: TestCase
    altered_first: bool

    @property
    def texts(self) -> tuple[str, str]:
        """(A, B) as shown."""
        return (self.case.altered, self.case.original) if self.altered_first else (self.case.original, self.case.altered)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StudyStore:
    def __init__(self, location: str | Path, dataset: Dataset, trials_per_participant: int = 9, seed: int | None = None,
                 catch: Dataset | None = None) -> None:
        self.engine, self.display_url = open_database(location, metadata, StudyError, "study database")
        self.dataset = dataset
        self.cases = {case.item_id: case for case in dataset.cases}
        # catch trials: item ids -1, -2, ... (one per participant, at a random position)
        self.catch_cases = {-1 - index: case for index, case in enumerate(catch.cases)} if catch is not None else {}
        self.random = random.Random(seed)
        with self.engine.begin() as connection:
            stored = dict(connection.execute(sa.select(settings_table.c.key, settings_table.c.value)).all())
            if stored.get("dataset_sha256") not in (None, dataset.sha256):
                raise StudyError(f"{self.display_url} holds a study of another test set ({stored.get('dataset')}); use another --db")
            for key, value in (("dataset", dataset.name), ("dataset_sha256", dataset.sha256), ("trials_per_participant", str(trials_per_participant))):
                if key not in stored:
                    connection.execute(sa.insert(settings_table).values(key=key, value=value))
        self.trials_per_participant = int(self.setting("trials_per_participant"))

    def setting(self, key: str) -> str:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(settings_table.c.value).where(settings_table.c.key == key)).scalar_one()

    def set_trials_per_participant(self, count: int) -> None:
        if not 1 <= count <= len(self.cases):
            raise StudyError(f"trials per participant must be between 1 and {len(self.cases)}")
        with self.engine.begin() as connection:
            connection.execute(sa.update(settings_table).where(settings_table.c.key == "trials_per_participant").values(value=str(count)))
        self.trials_per_participant = count

    # participants

    def add_participant(self) -> str:
        """A new participant with their trials assigned; returns their secret token."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            # One assignment at a time, so that each sees the others' counts: SQLite's BEGIN IMMEDIATE
            # already serialises writers; PostgreSQL needs a lock.
            if self.engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ASSIGNMENT_LOCK_KEY})
            participant = connection.execute(sa.insert(participants_table).values(token=token, created_at=_now())).inserted_primary_key[0]
            counts = dict(connection.execute(
                sa.select(assignments_table.c.item_id, sa.func.count()).group_by(assignments_table.c.item_id)
            ).all())
            chosen = self._balanced_items(counts, self.trials_per_participant)
            if self.catch_cases:
                chosen.insert(self.random.randrange(len(chosen) + 1), self.random.choice(sorted(self.catch_cases)))
            connection.execute(sa.insert(assignments_table), [
                {"participant_id": participant, "position": position, "item_id": item_id, "altered_first": self.random.random() > 0.5}
                for position, item_id in enumerate(chosen)
            ])
        return token

    def _balanced_items(self, counts: dict[int, int], n: int) -> list[int]:
        """``n`` items, always among the least assigned so far (so every item gets a similar number of
        responses), and among those from the subfields this participant has seen least (so they mix)."""
        counts = {item_id: counts.get(item_id, 0) for item_id in self.cases}  # catch items are not among them
        seen: dict[str, int] = {}
        chosen: list[int] = []
        for _ in range(min(n, len(self.cases))):
            fewest = min(counts.values())
            by_subfield: dict[str, list[int]] = {}
            for item_id, count in counts.items():
                if count == fewest:
                    by_subfield.setdefault(self.cases[item_id].subfield, []).append(item_id)
            # subfields in proportion to the items they have left at this level (D'Hondt): the participant's
            # trials mix, and large subfields are used up as fast as small ones, so later participants mix too
            subfield = max(by_subfield, key=lambda name: (len(by_subfield[name]) / (seen.get(name, 0) + 1), self.random.random()))
            item_id = self.random.choice(by_subfield[subfield])
            chosen.append(item_id)
            seen[self.cases[item_id].subfield] = seen.get(self.cases[item_id].subfield, 0) + 1
            del counts[item_id]  # once per participant
        return chosen

    def participant_id(self, token: str | None) -> int:
        if not token:
            raise StudyError("no participant session: start from the consent page", 401)
        with self.engine.begin() as connection:
            found = connection.execute(sa.select(participants_table.c.id).where(participants_table.c.token == token)).scalar_one_or_none()
        if found is None:
            raise StudyError("unknown participant session: start from the consent page", 401)
        return found

    def has_profile(self, participant: int) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(participants_table.c.age).where(participants_table.c.id == participant)).scalar_one() is not None

    def save_profile(self, participant: int, *, age: int, country: str, position: str, experience: int, sex: str) -> None:
        country = country.strip()
        if not 18 <= age <= 100:
            raise StudyError("age must be between 18 and 100", 422)
        if not country or len(country) > 100:
            raise StudyError("country must be given (at most 100 characters)", 422)
        if position not in POSITIONS:
            raise StudyError("choose a current position from the list", 422)
        if not 0 <= experience <= 70:
            raise StudyError("years of experience must be between 0 and 70", 422)
        if sex not in SEXES:
            raise StudyError("choose a gender identity from the list", 422)
        with self.engine.begin() as connection:
            connection.execute(sa.update(participants_table).where(participants_table.c.id == participant).values(
                age=age, country=country, current_position=position, experience=experience, sex=sex))

    # trials

    def next_trial(self, participant: int, clock: float) -> Trial | None:
        """The first unanswered trial (marked shown now, if not already), or None when all are done."""
        with self.engine.begin() as connection:
            answered = set(connection.execute(sa.select(responses_table.c.position).where(responses_table.c.participant_id == participant)).scalars())
            rows = connection.execute(sa.select(assignments_table).where(assignments_table.c.participant_id == participant)
                                      .order_by(assignments_table.c.position)).mappings().all()
            pending = [row for row in rows if row["position"] not in answered]
            if not pending:
                return None
            row = pending[0]
            if row["shown_at"] is None:
                connection.execute(sa.update(assignments_table).where(
                    (assignments_table.c.participant_id == participant) & (assignments_table.c.position == row["position"])).values(shown_at=clock))
        return Trial(row["position"], len(rows), row["item_id"], self.case(row["item_id"]), row["altered_first"])

    def case(self, item_id: int) -> TestCase:
        return self.catch_cases[item_id] if item_id < 0 else self.cases[item_id]

    def submit(self, participant: int, *, position: int, item_id: int, choice: str, confidence: int, expertise: int,
               confidence_touched: bool, expertise_touched: bool, recognised: bool, blurs: int, clock: float) -> bool:
        """Record one answer; returns whether it was correct. Refuses forged items, out-of-range values and replays."""
        if choice not in ("A", "B"):
            raise StudyError("choose abstract A or B", 422)
        for name, value in (("confidence", confidence), ("expertise", expertise)):
            if not 0 <= value <= 100:
                raise StudyError(f"{name} must be between 0 and 100", 422)
        if not 0 <= blurs <= 10_000:
            raise StudyError("implausible count of leaving the window", 422)
        try:
            with self.engine.begin() as connection:
                assignment = connection.execute(sa.select(assignments_table).where(
                    (assignments_table.c.participant_id == participant) & (assignments_table.c.position == position))).mappings().one_or_none()
                if assignment is None or assignment["item_id"] != item_id:
                    raise StudyError("this trial is not one of yours", 400)
                if assignment["shown_at"] is None:
                    raise StudyError("this trial has not been shown yet", 400)
                exists = connection.execute(sa.select(responses_table.c.position).where(
                    (responses_table.c.participant_id == participant) & (responses_table.c.position == position))).first()
                if exists is not None:
                    raise StudyError("this trial is already answered", 409)
                correct = (choice == "A") != bool(assignment["altered_first"])
                connection.execute(sa.insert(responses_table).values(
                    participant_id=participant, position=position, item_id=item_id, choice=choice, correct=correct,
                    confidence=confidence, expertise=expertise, confidence_touched=confidence_touched, expertise_touched=expertise_touched,
                    recognised=recognised, rt_ms=max(0, int(round(1000 * (clock - assignment["shown_at"])))), blurs=blurs, submitted_at=_now()))
        except sa.exc.IntegrityError:  # the same answer sent twice at once: the key lets one in
            raise StudyError("this trial is already answered", 409) from None
        return correct

    # admin

    def progress(self) -> dict[str, Any]:
        with self.engine.begin() as connection:
            participants = connection.execute(sa.select(sa.func.count()).select_from(participants_table)).scalar_one()
            responses = connection.execute(sa.select(sa.func.count()).select_from(responses_table)).scalar_one()
            finished = connection.execute(sa.select(sa.func.count()).select_from(
                sa.select(responses_table.c.participant_id).group_by(responses_table.c.participant_id)
                .having(sa.func.count() >= self.trials_per_participant).subquery())).scalar_one()
            per_item = dict(connection.execute(sa.select(responses_table.c.item_id, sa.func.count()).group_by(responses_table.c.item_id)).all())
            catch = connection.execute(sa.select(sa.func.count(), sa.func.sum(sa.cast(responses_table.c.correct, sa.Integer)))
                                       .where(responses_table.c.item_id < 0)).one()
        counts = [per_item.get(item_id, 0) for item_id in self.cases]
        return {"participants": participants, "finished": finished, "responses": responses,
                "items": len(self.cases), "responses_per_item_min": min(counts), "responses_per_item_max": max(counts),
                "catch_trials": catch[0], "catch_correct": int(catch[1] or 0)}

    def export_participant_data(self) -> str:
        """Every response as participant_data.csv (``brainbench humans --participants`` reads it)."""
        prefix = {"human": "human_", "gpt4": "machine_"}.get(self.dataset.source, "human_")
        query = (sa.select(responses_table, participants_table).join(participants_table, participants_table.c.id == responses_table.c.participant_id)
                 .where(responses_table.c.item_id >= 0).order_by(responses_table.c.participant_id, responses_table.c.position))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        with self.engine.begin() as connection:
            for number, row in enumerate(connection.execute(query).mappings()):
                writer.writerow([number, row["participant_id"], row["expertise"], row["confidence"], row["blurs"] or "", int(row["correct"]),
                                 row["rt_ms"], row["item_id"] + 1, prefix + self.cases[row["item_id"]].subfield,
                                 int(row["confidence_touched"] and row["expertise_touched"]), int(row["recognised"]),
                                 row["age"], row["country"], row["current_position"], row["experience"], row["sex"]])
        return buffer.getvalue()

    def export_catch(self) -> str:
        """Catch-trial answers: pid, the catch item's DOI, correct (screen out participants who failed)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["pid", "doi", "correct"])
        with self.engine.begin() as connection:
            for row in connection.execute(sa.select(responses_table).where(responses_table.c.item_id < 0)
                                          .order_by(responses_table.c.participant_id)).mappings():
                writer.writerow([row["participant_id"], self.catch_cases[row["item_id"]].doi, int(row["correct"])])
        return buffer.getvalue()

    def export_abstract_ids(self) -> str:
        """abstract_id_doi.csv for the test set: ``DOI;abstract_id;abstract`` (abstract_id = item id + 1)."""
        lines = ["DOI;abstract_id;abstract"] + [f"{case.doi};{case.item_id + 1};{case.original}" for case in self.dataset.cases]
        return "\n".join(lines) + "\n"
