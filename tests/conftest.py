"""Shared fixtures: caches in tmp, no hub access, the dataset mirror, and the --runslow switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache directory and never reaches a model hub."""
    monkeypatch.setenv("BRAINBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf-home"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The local mirror of the BrainBench files (BRAINBENCH_DATA_DIR, else ../shared/data/brainbench)."""
    path = Path(os.environ.get("BRAINBENCH_DATA_DIR") or REPO_ROOT.parent / "shared" / "data" / "brainbench")
    if not (path / "BrainBench_Human_v0.1.csv").is_file():
        message = f"no BrainBench mirror at {path}; set BRAINBENCH_DATA_DIR"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test against the real files, never skip them
        pytest.skip(message)
    return path.resolve()


@pytest.fixture(scope="session")
def embedded_scorer():
    """The embedded SmolLM2-135M-Instruct, loaded once per session (float32, CPU)."""
    from brainbench.scoring import load_scorer

    return load_scorer(dtype="float32", device="cpu")
