"""Fixtures of the study tests: the published test set, a fresh study store and its app."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from brainbench.data import Dataset, load_dataset
from brainbench.study import StudyStore, create_app
from tests.study.flows import TOKEN


@pytest.fixture(scope="session")
def human(data_dir: Path) -> Dataset:
    return load_dataset("brainbench-human", data_dir=data_dir, offline=True)


@pytest.fixture()
def store(human: Dataset, tmp_path: Path) -> StudyStore:
    return StudyStore(tmp_path / "study.sqlite", human, trials_per_participant=2, seed=0)


@pytest.fixture()
def client(store: StudyStore) -> TestClient:
    """A participant's browser on the app (redirects not followed, so that each step can be checked)."""
    return TestClient(create_app(store, TOKEN), follow_redirects=False)


@pytest.fixture()
def study_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty study database for the test's ``backend`` parameter: a SQLite file, or a new
    database on the session's throwaway PostgreSQL cluster (tests must not see each other's participants)."""
    if request.param == "sqlite":
        yield str(tmp_path / "study.sqlite")
        return
    cluster = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"study_{secrets.token_hex(6)}"
    engine = sa.create_engine(cluster, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield cluster.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        engine.dispose()
