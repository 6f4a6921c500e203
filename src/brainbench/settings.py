"""Environment variables -> frozen Settings. Only the CLI reads these; library code takes explicit arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "BRAINBENCH_DATA_DIR"
CACHE_DIR_ENV = "BRAINBENCH_CACHE_DIR"
OFFLINE_ENV = "BRAINBENCH_OFFLINE"
STORE_ENV = "BRAINBENCH_STORE"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path | None  # a local mirror of the dataset files, tried first
    cache_dir: Path  # where downloaded datasets are kept
    offline: bool  # never touch the network
    store: str | None  # results store: a database URL or SQLite file (None: the user's store)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_settings(data_dir: Path | None = None, offline: bool | None = None, store: str | None = None) -> Settings:
    """Resolve settings: explicit arguments win over environment variables, which win over defaults."""
    env_data_dir = os.environ.get(DATA_DIR_ENV)
    cache_dir = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("brainbench")
    return Settings(
        data_dir=data_dir or (Path(env_data_dir) if env_data_dir else None),
        cache_dir=Path(cache_dir),
        offline=offline if offline is not None else _truthy(os.environ.get(OFFLINE_ENV)),
        store=store or os.environ.get(STORE_ENV) or None,
    )
