"""The results store: every scored text, kept by who scored it and what exactly was scored.

One database holds many runs. ``scores`` has one row per (scorer, text): the scorer key is a hash
of the scorer's fingerprint (backend, model id or path, revision or file hash, adapter, dtype),
the text key the sha256 of the exact text scored (template applied), so a template change is a
new text and the same text is never scored twice by the same scorer, whichever run asked.
``runs`` and ``run_cases`` say which test cases each run covers, the texts of their versions and
the order they are shown in, so a run directory can be exported from the store alone.

SQLite (WAL journal, writers wait for each other) is the default; any SQLAlchemy URL such as
``postgresql+psycopg://user@host/db`` works the same, for a team sharing one store. Inserts
ignore rows that are already there, so two processes scoring the same texts at once store each
text once.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa

from brainbench.db import database_url as store_url
from brainbench.db import insert_ignoring_existing, open_database, reconnecting, utc_now
from brainbench.errors import RunError
from brainbench.runs.info import RunInfo
from brainbench.scoring.base import TokenScores

STORE_FILE = "brainbench.sqlite"
_LOOKUP_CHUNK = 500  # keys per IN (...) query: under SQLite's variable limit

metadata = sa.MetaData()
scorers_table = sa.Table(
    "scorers",
    metadata,
    sa.Column("scorer_key", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),  # JSON: what the key is a hash of
    sa.Column("description", sa.Text, nullable=False),  # JSON: Scorer.describe() when first used
    sa.Column("created_at", sa.String(32), nullable=False),
)
scores_table = sa.Table(
    "scores",
    metadata,
    sa.Column("scorer_key", sa.String(64), primary_key=True),
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("n_text_tokens", sa.Integer, nullable=False),
    sa.Column("nll", sa.Float, nullable=False),
    sa.Column("token_logprobs", sa.LargeBinary, nullable=False),  # little-endian float64, tokens 1..T-1
    sa.Column("n_bytes", sa.Integer),  # UTF-8 bytes of the text (stores from before it: NULL)
    sa.Column("token_certainties", sa.LargeBinary),  # self-certainty per scored token, float64 (NULL: not known)
    sa.Column("token_offsets", sa.LargeBinary),  # (start, end) characters per scored token, int32 (NULL: not known)
    sa.Column("elapsed_s", sa.Float),
    sa.Column("created_at", sa.String(32), nullable=False),
)
runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("run_key", sa.String(64), primary_key=True),
    sa.Column("scorer_key", sa.String(64), nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("info", sa.Text, nullable=False),  # JSON: the run.json of an exported run directory
    sa.Column("created_at", sa.String(32), nullable=False),
)
answers_table = sa.Table(  # the choice protocol's answers, one per (scorer, question)
    "answers",
    metadata,
    sa.Column("scorer_key", sa.String(64), primary_key=True),
    sa.Column("prompt_sha256", sa.String(64), primary_key=True),
    sa.Column("answer", sa.Text, nullable=False),  # JSON: status, letter, probabilities, texts, source, attempts
    sa.Column("elapsed_s", sa.Float),
    sa.Column("created_at", sa.String(32), nullable=False),
)
run_cases_table = sa.Table(
    "run_cases",
    metadata,
    sa.Column("run_key", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.Integer, primary_key=True),
    sa.Column("doi", sa.Text),
    sa.Column("subfield", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("options", sa.Text, nullable=False),  # JSON: sha256 of each version's scored text, the real one first
    sa.Column("shown", sa.Text, nullable=False),  # JSON: the version at each position (A, B, ...)
    sa.Column("error", sa.Text),  # why the case could not be scored, until it is
    sa.Column("grid", sa.Text),  # JSON: a graded case's values, numbers, answer and unit (NULL for other cases)
)
# Stores from before N-option cases kept pairs here; they are copied into run_cases when such a store opens.
_LEGACY_RUN_ITEMS = "run_items"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunCase:
    """One test case of a run, as the store keeps it."""

    item_id: int
    doi: str | None
    subfield: str | None
    source: str | None
    options: tuple[str, ...]  # sha256 of each version's text, the real one first
    shown: tuple[int, ...]  # the version at each position (A, B, ...)
    error: str | None = None
    grid: dict[str, Any] | None = field(default=None, hash=False)  # a graded case's Grid.to_json()

    @property
    def label(self) -> int:
        """The position of the real version (the paper's label: 1 when the original is B)."""
        return self.shown.index(0)

    def row(self, run_key: str) -> dict[str, Any]:
        return {
            "run_key": run_key,
            "item_id": self.item_id,
            "doi": self.doi,
            "subfield": self.subfield,
            "source": self.source,
            "options": json.dumps(list(self.options)),
            "shown": json.dumps(list(self.shown)),
            "error": self.error,
            "grid": None if self.grid is None else json.dumps(self.grid),
        }


def _floats(blob: bytes) -> tuple[float, ...]:
    return tuple(np.frombuffer(blob, dtype="<f8").tolist())


def _offsets(blob: bytes | None) -> tuple[tuple[int, int], ...] | None:
    if blob is None:
        return None
    return tuple(map(tuple, np.frombuffer(blob, dtype="<i4").reshape(-1, 2).tolist()))


@dataclass(frozen=True)
class StoredScore:
    scores: TokenScores
    n_bytes: int | None
    elapsed_s: float | None
    created_at: str | None = None  # when it was committed (the texts of one call share it, to the millisecond)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reconnecting(method: _Method) -> _Method:
    """A store method that outlives a dropped connection (``brainbench.db.reconnecting``): the outermost call runs
    again as a whole; every method's transactions can run twice (inserts skip what is there)."""

    @functools.wraps(method)
    def call(self: ResultsStore, *args: Any, **kwargs: Any) -> Any:
        if self._calling:  # inside another store method, which runs again as a whole
            return method(self, *args, **kwargs)
        self._calling = True
        try:
            return reconnecting(lambda: method(self, *args, **kwargs), self.engine, f"results store {self.display_url}")
        finally:
            self._calling = False

    return call  # type: ignore[return-value]


class ResultsStore:
    """Scores and runs in one SQL database (see the module docstring). ``create=False`` opens only a store
    that exists (for listing), and never writes to it."""

    def __init__(self, location: str | Path, *, create: bool = True) -> None:
        self.url = store_url(location)
        self._calling = False
        self.engine, self.display_url = open_database(self.url, metadata, RunError, "results store", create=create)
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise RunError(f"results store: {self.engine.dialect.name} is not supported (SQLite or PostgreSQL)")
        if create:
            self._migrate()
        # a store opened only for reading may predate graded cases (no run_cases.grid) or self-certainty
        inspector = sa.inspect(self.engine)
        self._has_grid = create or "grid" in {column["name"] for column in inspector.get_columns("run_cases")}
        score_columns = {column["name"] for column in inspector.get_columns("scores")}
        self._has_certainties = create or "token_certainties" in score_columns
        self._has_offsets = create or "token_offsets" in score_columns

    @_reconnecting
    def _migrate(self) -> None:
        """Bring a store written by an older brainbench up to date: add ``scores.n_bytes``,
        ``scores.token_certainties``, ``scores.token_offsets`` and ``run_cases.grid``, copy pair runs into
        run_cases."""
        with self.engine.begin() as connection:
            inspector = sa.inspect(connection)
            score_columns = {column["name"] for column in inspector.get_columns("scores")}
            if "n_bytes" not in score_columns:
                connection.execute(sa.text("ALTER TABLE scores ADD COLUMN n_bytes INTEGER"))
            blob = "BYTEA" if connection.dialect.name == "postgresql" else "BLOB"
            for column in ("token_certainties", "token_offsets"):
                if column not in score_columns:
                    connection.execute(sa.text(f"ALTER TABLE scores ADD COLUMN {column} {blob}"))
            if "grid" not in {column["name"] for column in inspector.get_columns("run_cases")}:
                connection.execute(sa.text("ALTER TABLE run_cases ADD COLUMN grid TEXT"))
            if _LEGACY_RUN_ITEMS in inspector.get_table_names():
                connection.execute(
                    sa.text(
                        "INSERT INTO run_cases (run_key, item_id, doi, subfield, source, options, shown, error) "
                        "SELECT run_key, item_id, doi, subfield, source, '[\"' || original_sha256 || '\", \"' || "
                        "altered_sha256 || '\"]', "
                        "CASE WHEN label = 1 THEN '[1, 0]' ELSE '[0, 1]' END, error FROM run_items "
                        "WHERE run_key NOT IN (SELECT run_key FROM run_cases)"
                    )
                )

    def _insert_ignoring_existing(self, table: sa.Table) -> Any:
        """INSERT that skips rows whose key is already stored (another run got there first)."""
        return insert_ignoring_existing(self.engine, table)

    # scorers and scores

    @_reconnecting
    def register_scorer(self, fingerprint: dict[str, Any], description: dict[str, Any]) -> str:
        key = json_key(fingerprint)
        row = {
            "scorer_key": key,
            "fingerprint": json.dumps(fingerprint, sort_keys=True, default=str),
            "description": json.dumps(description, sort_keys=True, default=str),
            "created_at": utc_now(),
        }
        with self.engine.begin() as connection:
            connection.execute(self._insert_ignoring_existing(scorers_table), [row])
        return key

    @_reconnecting
    def add_scores(self, scorer_key: str, scored: Iterable[tuple[str, TokenScores, float | None]]) -> None:
        """Commit (text, scores, elapsed seconds) triples in one transaction, with one time (to the millisecond):
        what a call scored is told apart by it (a run's wall-clock time, ``runs.summary.scoring_wall_s``)."""
        now = utc_now("milliseconds")
        rows = [
            {
                "scorer_key": scorer_key,
                "text_sha256": text_key(text),
                "n_text_tokens": scores.n_text_tokens,
                "nll": scores.nll,
                "token_logprobs": np.asarray(scores.token_logprobs, dtype="<f8").tobytes(),
                "token_certainties": None
                if scores.token_certainties is None
                else np.asarray(scores.token_certainties, dtype="<f8").tobytes(),
                "token_offsets": None
                if scores.token_offsets is None
                else np.asarray(scores.token_offsets, dtype="<i4").reshape(-1, 2).tobytes(),
                "n_bytes": len(text.encode("utf-8")),
                "elapsed_s": elapsed_s,
                "created_at": now,
            }
            for text, scores, elapsed_s in scored
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self._insert_ignoring_existing(scores_table), rows)

    @_reconnecting
    def _select_scores(
        self, scorer_key: str, text_hashes: Iterable[str], *columns: Any, table: sa.Table = scores_table
    ) -> list[Any]:
        """Rows of ``columns`` for the texts (questions, in ``answers``) this scorer has done, looked up in chunks."""
        wanted = sorted(set(text_hashes))
        key = table.c.text_sha256 if table is scores_table else table.c.prompt_sha256
        rows: list[Any] = []
        with self.engine.begin() as connection:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                query = sa.select(*columns).where(
                    table.c.scorer_key == scorer_key, key.in_(wanted[start : start + _LOOKUP_CHUNK])
                )
                rows += connection.execute(query).all()
        return rows

    @_reconnecting
    def stored_texts(self, scorer_key: str, text_hashes: Iterable[str], protocol: str = "perplexity") -> set[str]:
        """Which of these texts this scorer has scored, or (choice protocol) which questions it has answered."""
        if protocol == "choice":
            return {
                sha
                for (sha,) in self._select_scores(
                    scorer_key, text_hashes, answers_table.c.prompt_sha256, table=answers_table
                )
            }
        return {sha for (sha,) in self._select_scores(scorer_key, text_hashes, scores_table.c.text_sha256)}

    @_reconnecting
    def add_answers(self, scorer_key: str, answered: Iterable[tuple[str, dict[str, Any], float | None]]) -> None:
        """Commit (question text, answer record, elapsed seconds) triples of the choice protocol in one transaction
        (with one time, as ``add_scores``)."""
        now = utc_now("milliseconds")
        rows = [
            {
                "scorer_key": scorer_key,
                "prompt_sha256": text_key(prompt),
                "answer": json.dumps(answer),
                "elapsed_s": elapsed_s,
                "created_at": now,
            }
            for prompt, answer, elapsed_s in answered
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self._insert_ignoring_existing(answers_table), rows)

    @_reconnecting
    def get_answers(
        self, scorer_key: str, prompt_hashes: Iterable[str]
    ) -> dict[str, tuple[dict[str, Any], float | None, str | None]]:
        """{question sha256: (answer record, elapsed seconds, committed at)} for the questions this scorer has
        answered."""
        columns = (
            answers_table.c.prompt_sha256,
            answers_table.c.answer,
            answers_table.c.elapsed_s,
            answers_table.c.created_at,
        )
        return {
            sha: (json.loads(answer), elapsed, created_at)
            for sha, answer, elapsed, created_at in self._select_scores(
                scorer_key, prompt_hashes, *columns, table=answers_table
            )
        }

    @_reconnecting
    def get_scores(self, scorer_key: str, text_hashes: Iterable[str]) -> dict[str, StoredScore]:
        """{text sha256: what is stored} for the texts this scorer has scored."""
        columns = (
            scores_table.c.text_sha256,
            scores_table.c.n_text_tokens,
            scores_table.c.token_logprobs,
            scores_table.c.token_certainties if self._has_certainties else sa.null(),
            scores_table.c.token_offsets if self._has_offsets else sa.null(),
            scores_table.c.n_bytes,
            scores_table.c.elapsed_s,
            scores_table.c.created_at,
        )
        return {
            sha: StoredScore(
                TokenScores(
                    _floats(blob),
                    n_text_tokens,
                    None if certainties is None else _floats(certainties),
                    _offsets(offsets),
                ),
                n_bytes,
                elapsed,
                created_at,
            )
            for sha, n_text_tokens, blob, certainties, offsets, n_bytes, elapsed, created_at in self._select_scores(
                scorer_key, text_hashes, *columns
            )
        }

    @_reconnecting
    def count_scores(self) -> int:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(scores_table)).scalar_one()

    # runs

    @_reconnecting
    def register_run(self, run_key: str, scorer_key: str, run_info: RunInfo, cases: Sequence[RunCase]) -> None:
        """Record a run and its test cases (a resumed run adds new cases; its run.json is the latest).
        A run made before by other weights under the same spec (a hub model updated upstream) is refused."""
        run_row = {
            "run_key": run_key,
            "scorer_key": scorer_key,
            "model": run_info.model,
            "dataset": run_info.dataset,
            "info": json.dumps(run_info.to_json()),
            "created_at": utc_now(),
        }
        with self.engine.begin() as connection:
            known = connection.execute(
                sa.select(runs_table.c.scorer_key).where(runs_table.c.run_key == run_key)
            ).scalar_one_or_none()
            if known is not None and known != scorer_key:
                raise RunError(
                    f"{self.display_url}: run {run_key[:12]} was scored by other weights of {run_info.model} (the "
                    "hub "
                    "model changed, or its files did): pin --revision, or pass --overwrite to start the run again"
                )
            if known is None:
                connection.execute(self._insert_ignoring_existing(runs_table), [run_row])
            else:
                connection.execute(
                    sa.update(runs_table).where(runs_table.c.run_key == run_key).values(info=run_row["info"])
                )
            if cases:
                connection.execute(
                    self._insert_ignoring_existing(run_cases_table), [case.row(run_key) for case in cases]
                )

    @_reconnecting
    def forget_run(self, run_key: str) -> None:
        """Drop a run's record (its scores stay: they belong to the scorer)."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(run_cases_table).where(run_cases_table.c.run_key == run_key))
            connection.execute(sa.delete(runs_table).where(runs_table.c.run_key == run_key))

    @_reconnecting
    def set_case_error(self, run_key: str, item_id: int, error: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(run_cases_table)
                .where(run_cases_table.c.run_key == run_key, run_cases_table.c.item_id == item_id)
                .values(error=error)
            )

    @_reconnecting
    def has_run(self, run_key: str) -> bool:
        with self.engine.begin() as connection:
            return (
                connection.execute(sa.select(runs_table.c.run_key).where(runs_table.c.run_key == run_key)).first()
                is not None
            )

    @_reconnecting
    def run_info(self, run_key: str) -> RunInfo:
        with self.engine.begin() as connection:
            info = connection.execute(
                sa.select(runs_table.c.info).where(runs_table.c.run_key == run_key)
            ).scalar_one_or_none()
        if info is None:
            raise RunError(f"{self.display_url}: no run {run_key!r} (brainbench runs lists them)")
        return RunInfo.upgrade(json.loads(info))

    @_reconnecting
    def run_cases(self, run_key: str) -> list[RunCase]:
        names = (
            "item_id",
            "doi",
            "subfield",
            "source",
            "options",
            "shown",
            "error",
            *(("grid",) if self._has_grid else ()),
        )
        with self.engine.begin() as connection:
            rows = connection.execute(
                sa.select(*(run_cases_table.c[name] for name in names))
                .where(run_cases_table.c.run_key == run_key)
                .order_by(run_cases_table.c.item_id)
            ).all()
        return [
            RunCase(
                item_id,
                doi,
                subfield,
                source,
                tuple(json.loads(options)),
                tuple(json.loads(shown)),
                error,
                json.loads(grid[0]) if grid and grid[0] is not None else None,
            )
            for item_id, doi, subfield, source, options, shown, error, *grid in rows
        ]

    @_reconnecting
    def is_complete(self, run_key: str, item_ids: Iterable[int] | None = None) -> bool:
        """Whether every case of the run (those of ``item_ids``, which must all be registered) is scored or recorded as
        an error."""
        if not self.has_run(run_key):
            return False
        if item_ids is not None and not set(item_ids) <= {case.item_id for case in self.run_cases(run_key)}:
            return False
        return self._count_scored(run_key, item_ids=item_ids)[1] == 0

    @_reconnecting
    def _count_scored(
        self, run_key: str, scorer_key: str | None = None, item_ids: Iterable[int] | None = None
    ) -> tuple[int, int]:
        """(cases fully scored, cases neither scored nor failed) of a run (of its cases in ``item_ids``)."""
        cases = self.run_cases(run_key)
        if item_ids is not None:
            wanted = set(item_ids)
            cases = [case for case in cases if case.item_id in wanted]
        info = self.run_info(run_key)
        scorer_key = scorer_key or info.scorer_key
        stored = self.stored_texts(scorer_key, [sha for case in cases for sha in case.options], info.protocol)
        scored = sum(set(case.options) <= stored for case in cases)
        missing = sum(case.error is None and not set(case.options) <= stored for case in cases)
        return scored, missing

    @_reconnecting
    def list_runs(self) -> list[dict[str, Any]]:
        """Every run with its model, dataset, number of cases and how many are fully scored."""
        with self.engine.begin() as connection:
            runs = connection.execute(
                sa.select(
                    runs_table.c.run_key,
                    runs_table.c.scorer_key,
                    runs_table.c.model,
                    runs_table.c.dataset,
                    runs_table.c.info,
                    runs_table.c.created_at,
                ).order_by(runs_table.c.created_at, runs_table.c.run_key)
            ).all()
        listed = []
        for run_key, scorer_key, model, dataset, info, created_at in runs:
            cases = self.run_cases(run_key)
            scored, _ = self._count_scored(run_key, scorer_key)
            details = RunInfo.upgrade(json.loads(info))
            listed.append(
                {
                    "run": run_key[:12],
                    "run_key": run_key,
                    "model": model,
                    "dataset": dataset,
                    "condition": details.condition,
                    "template": details.spec.template,
                    "seed": details.seed,
                    "protocol": details.protocol,
                    "items": len(cases),
                    "scored": scored,
                    "errors": sum(case.error is not None for case in cases),
                    "out": details.out,
                    "created_at": created_at,
                }
            )
        return listed

    @_reconnecting
    def find_run(self, prefix: str) -> str:
        """The full key of the run whose key starts with ``prefix``."""
        with self.engine.begin() as connection:
            keys = (
                connection.execute(sa.select(runs_table.c.run_key).where(runs_table.c.run_key.startswith(prefix)))
                .scalars()
                .all()
            )
        if len(keys) != 1:
            raise RunError(
                f"{self.display_url}: {'no' if not keys else 'more than one'} run starts with {prefix!r} (brainbench "
                "runs lists them)"
            )
        return keys[0]
