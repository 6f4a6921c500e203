"""Fixtures of the authoring tests: one Chromium per module, a fresh queue database on SQLite or PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.fixture()
def queue_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty review-queue database for the test's ``backend`` parameter: a SQLite file, or a new database
    on the session's throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        yield str(tmp_path / "review.sqlite")
        return
    cluster = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"review_{secrets.token_hex(6)}"
    engine = sa.create_engine(cluster, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield cluster.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        engine.dispose()
