"""Fixtures of the study tests: the published test set, a fresh study store and its app."""

from __future__ import annotations

from pathlib import Path

import pytest
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
