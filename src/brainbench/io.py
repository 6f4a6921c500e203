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


def read_bytes(path: Path, what: str = "file") -> bytes:
    """A file's bytes; a file that is missing, unreadable or a folder is an InputError naming it."""
    from brainbench.errors import InputError

    path = Path(path)
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, None, f"is a folder, not a {what}") from None
    except FileNotFoundError:
        raise InputError(path, None, f"no such {what}") from None
    except PermissionError:
        raise InputError(path, None, f"cannot read this {what} (permission denied)") from None
    except OSError as error:
        raise InputError(path, None, f"cannot read: {error.strerror}") from None


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file's contents (``read_bytes``' errors, and one for text that is not UTF-8)."""
    from brainbench.errors import InputError

    try:
        return read_bytes(path, what).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(path, None, f"not UTF-8 text (byte {error.start}): is it a {what}?") from None


def iter_jsonl(path: Path, *, skip_damaged: bool = False, what: str = "JSON Lines file") -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a JSON Lines file. A line that is not JSON is an InputError
    naming the file and line, or, with ``skip_damaged`` (files appended to as work is done, where an interruption
    can cut the last line short), skipped."""
    from brainbench.errors import InputError

    for number, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            if not skip_damaged:
                raise InputError(path, number, f"not valid JSON ({error.msg} at column {error.colno})") from None


def read_jsonl(path: Path, *, skip_damaged: bool = False, missing_ok: bool = False) -> list[Any]:
    """Every value of a JSON Lines file (see ``iter_jsonl``); ``missing_ok``: a missing file reads as empty."""
    if missing_ok and not Path(path).exists():
        return []
    return [value for _, value in iter_jsonl(path, skip_damaged=skip_damaged)]


def check_output_path(path: Path, kind: str = "file", option: str = "--out") -> Path:
    """Check, before any work, that ``path`` can be written as a ``kind`` ("file" or "folder"): what is in the way
    (a folder where a file goes, a file where a folder goes or above it), and whether its nearest existing folder
    takes a new file (tried with a temporary one). A mistake is an InputError naming ``option`` and the path."""
    import tempfile

    from brainbench.errors import InputError

    path = Path(path)
    if path.exists() and (path.is_dir() != (kind == "folder")):
        what = "a folder" if path.is_dir() else "a file"
        raise InputError(option, None, f"{path} is {what}, not a {kind}")
    existing = next(parent for parent in (path, *path.absolute().parents) if parent.exists())
    if not existing.is_dir():
        raise InputError(option, None, f"{path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise InputError(option, None, f"{path} cannot be written ({existing}: {error.strerror})") from None
    return path
