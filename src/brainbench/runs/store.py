"""The results store: every scored text, kept by who scored it and what exactly was scored.

One database holds many runs. ``scores`` has one row per (scorer, text): the scorer key is a hash
of the scorer's fingerprint (backend, model id or path, revision or file hash, adapter, dtype),
the text key the sha256 of the exact text scored (template applied), so a template change is a
new text and the same text is never scored twice by the same scorer, whichever run asked.
``runs`` and ``run_items`` say which test cases each run covers and in which A/B order, so a run
directory can be exported from the store alone.

SQLite (WAL journal, writers wait for each other) is the default; any SQLAlchemy URL such as
``postgresql+psycopg://user@host/db`` works the same, for a team sharing one store. Inserts
ignore rows that are already there, so two processes scoring the same texts at once store each
text once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from brainbench.db import database_url as store_url
from brainbench.db import insert_ignoring_existing, open_database, utc_now
from brainbench.errors import RunError
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
run_items_table = sa.Table(
    "run_items",
    metadata,
    sa.Column("run_key", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.Integer, primary_key=True),
    sa.Column("doi", sa.Text),
    sa.Column("subfield", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("label", sa.Integer, nullable=False),
    sa.Column("original_sha256", sa.String(64), nullable=False),
    sa.Column("altered_sha256", sa.String(64), nullable=False),
    sa.Column("error", sa.Text),  # why the case could not be scored, until it is
)


sweep_entries_table = sa.Table(
    "sweep_entries",
    metadata,
    sa.Column("entry_key", sa.String(64), primary_key=True),  # a sweep entry: model options x dataset x condition
    sa.Column("run_key", sa.String(64), nullable=False),  # the run it made
)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunItem:
    """One test case of a run, as the store keeps it."""

    item_id: int
    doi: str | None
    subfield: str | None
    source: str | None
    label: int
    original_sha256: str
    altered_sha256: str
    error: str | None = None


class ResultsStore:
    """Scores and runs in one SQL database (see the module docstring)."""

    def __init__(self, location: str | Path) -> None:
        self.url = store_url(location)
        self.engine, self.display_url = open_database(self.url, metadata, RunError, "results store")
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise RunError(f"results store: {self.engine.dialect.name} is not supported (SQLite or PostgreSQL)")

    def _insert_ignoring_existing(self, table: sa.Table) -> Any:
        """INSERT that skips rows whose key is already stored (another run got there first)."""
        return insert_ignoring_existing(self.engine, table)

    # scorers and scores

    def register_scorer(self, fingerprint: dict[str, Any], description: dict[str, Any]) -> str:
        key = json_key(fingerprint)
        row = {"scorer_key": key, "fingerprint": json.dumps(fingerprint, sort_keys=True, default=str),
               "description": json.dumps(description, sort_keys=True, default=str), "created_at": utc_now()}
        with self.engine.begin() as connection:
            connection.execute(self._insert_ignoring_existing(scorers_table), [row])
        return key

    def add_scores(self, scorer_key: str, scored: Iterable[tuple[str, TokenScores, float | None]]) -> None:
        """Commit (text, scores, elapsed seconds) triples in one transaction."""
        rows = [
            {
                "scorer_key": scorer_key,
                "text_sha256": text_key(text),
                "n_text_tokens": scores.n_text_tokens,
                "nll": scores.nll,
                "token_logprobs": np.asarray(scores.token_logprobs, dtype="<f8").tobytes(),
                "elapsed_s": elapsed_s,
                "created_at": utc_now(),
            }
            for text, scores, elapsed_s in scored
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self._insert_ignoring_existing(scores_table), rows)

    def _select_scores(self, scorer_key: str, text_hashes: Iterable[str], *columns: Any) -> list[Any]:
        """Rows of ``columns`` for the texts this scorer has scored, looked up in chunks."""
        wanted = sorted(set(text_hashes))
        rows: list[Any] = []
        with self.engine.begin() as connection:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                query = sa.select(*columns).where(
                    scores_table.c.scorer_key == scorer_key,
                    scores_table.c.text_sha256.in_(wanted[start : start + _LOOKUP_CHUNK]),
                )
                rows += connection.execute(query).all()
        return rows

    def stored_texts(self, scorer_key: str, text_hashes: Iterable[str]) -> set[str]:
        """Which of these texts this scorer has scored (no log-probabilities read)."""
        return {sha for (sha,) in self._select_scores(scorer_key, text_hashes, scores_table.c.text_sha256)}

    def get_scores(self, scorer_key: str, text_hashes: Iterable[str]) -> dict[str, tuple[TokenScores, float | None]]:
        """{text sha256: (scores, elapsed seconds)} for the texts this scorer has scored."""
        columns = (scores_table.c.text_sha256, scores_table.c.n_text_tokens, scores_table.c.token_logprobs, scores_table.c.elapsed_s)
        return {
            sha: (TokenScores(tuple(np.frombuffer(blob, dtype="<f8").tolist()), n_text_tokens), elapsed_s)
            for sha, n_text_tokens, blob, elapsed_s in self._select_scores(scorer_key, text_hashes, *columns)
        }

    def count_scores(self) -> int:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(scores_table)).scalar_one()

    # runs

    def register_run(self, run_key: str, scorer_key: str, run_info: dict[str, Any], items: Sequence[RunItem]) -> None:
        """Record a run and its test cases (both kept as first written; a resumed run adds new items)."""
        run_row = {"run_key": run_key, "scorer_key": scorer_key, "model": run_info["model"], "dataset": run_info["dataset"],
                   "info": json.dumps(run_info, default=str), "created_at": utc_now()}
        item_rows = [{"run_key": run_key, **item.__dict__} for item in items]
        with self.engine.begin() as connection:
            connection.execute(self._insert_ignoring_existing(runs_table), [run_row])
            if item_rows:
                connection.execute(self._insert_ignoring_existing(run_items_table), item_rows)

    def set_item_error(self, run_key: str, item_id: int, error: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(run_items_table)
                .where(run_items_table.c.run_key == run_key, run_items_table.c.item_id == item_id)
                .values(error=error)
            )

    def run_info(self, run_key: str) -> dict[str, Any]:
        with self.engine.begin() as connection:
            info = connection.execute(sa.select(runs_table.c.info).where(runs_table.c.run_key == run_key)).scalar_one_or_none()
        if info is None:
            raise RunError(f"{self.url}: no run {run_key!r} (brainbench runs lists them)")
        return json.loads(info)

    def run_items(self, run_key: str) -> list[RunItem]:
        columns = [run_items_table.c[name] for name in RunItem.__dataclass_fields__]
        with self.engine.begin() as connection:
            rows = connection.execute(
                sa.select(*columns).where(run_items_table.c.run_key == run_key).order_by(run_items_table.c.item_id)
            )
            return [RunItem(*row) for row in rows]

    def is_complete(self, run_key: str) -> bool:
        """Whether every case of the run is scored (or recorded as an error)."""
        info, items = self.run_info(run_key), self.run_items(run_key)
        stored = self.stored_texts(info["scorer_key"], [sha for item in items for sha in (item.original_sha256, item.altered_sha256)])
        return bool(items) and all(item.error is not None or {item.original_sha256, item.altered_sha256} <= stored for item in items)

    def remember_entry(self, entry_key: str, run_key: str) -> None:
        """Which run a sweep entry made, so that a later sweep can skip loading its model when that run is complete."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(sweep_entries_table).where(sweep_entries_table.c.entry_key == entry_key))
            connection.execute(sa.insert(sweep_entries_table).values(entry_key=entry_key, run_key=run_key))

    def entry_run(self, entry_key: str) -> str | None:
        with self.engine.begin() as connection:
            return connection.execute(sa.select(sweep_entries_table.c.run_key).where(sweep_entries_table.c.entry_key == entry_key)).scalar_one_or_none()

    def list_runs(self) -> list[dict[str, Any]]:
        """Every run with its model, dataset, number of cases and how many are fully scored."""
        with self.engine.begin() as connection:
            runs = connection.execute(
                sa.select(runs_table.c.run_key, runs_table.c.scorer_key, runs_table.c.model, runs_table.c.dataset,
                          runs_table.c.info, runs_table.c.created_at).order_by(runs_table.c.created_at, runs_table.c.run_key)
            ).all()
        listed = []
        for run_key, scorer_key, model, dataset, info, created_at in runs:
            items = self.run_items(run_key)
            scored = self.stored_texts(scorer_key, [sha for item in items for sha in (item.original_sha256, item.altered_sha256)])
            complete = sum(item.original_sha256 in scored and item.altered_sha256 in scored for item in items)
            details = json.loads(info)
            listed.append({"run": run_key[:12], "run_key": run_key, "model": model, "dataset": dataset,
                           "condition": details.get("condition") or "full", "template": details.get("template"), "seed": details.get("seed"), "items": len(items),
                           "scored": complete, "errors": sum(item.error is not None for item in items), "created_at": created_at})
        return listed

    def find_run(self, prefix: str) -> str:
        """The full key of the run whose key starts with ``prefix``."""
        with self.engine.begin() as connection:
            keys = connection.execute(sa.select(runs_table.c.run_key).where(runs_table.c.run_key.startswith(prefix))).scalars().all()
        if len(keys) != 1:
            raise RunError(f"{self.url}: {'no' if not keys else 'more than one'} run starts with {prefix!r} (brainbench runs lists them)")
        return keys[0]
