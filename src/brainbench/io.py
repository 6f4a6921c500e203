"""Atomic file writes, shared by every stage: write ``NAME.incomplete`` beside the target, then move it into
place, so that a reader never sees half a file and an interrupted write leaves the old file whole."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".incomplete")


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``path.incomplete`` for writing; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with open(partial, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_json_atomic(path: Path, payload: Any) -> None:
    """``payload`` as indented JSON (values JSON cannot hold are written as strings)."""
    write_text_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")


def write_jsonl_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(record) + "\n" for record in records))
