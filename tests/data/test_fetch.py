"""Dataset resolution: mirror -> cache -> download (from a real HTTP server on 127.0.0.1) with sha256 checks."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from brainbench.data import DATASETS, load_dataset
from brainbench.data.fetch import resolve_dataset_file
from brainbench.errors import ChecksumError, DatasetNotFoundError
from tests.servers import http_server

SPEC = DATASETS["brainbench-gpt4"]


@contextmanager
def serve_folder(root: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving ``root`` (created); yields (base url, folder)."""
    root.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http_server(handler) as url:
        yield url, root


@pytest.fixture()
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serve_folder(tmp_path / "served") as served:
        yield served


def test_mirror_is_used_and_verified(data_dir: Path, tmp_path: Path) -> None:
    assert resolve_dataset_file(SPEC, data_dir=data_dir, cache_dir=tmp_path, offline=True) == data_dir / SPEC.filename
    tampered = tmp_path / "mirror"
    tampered.mkdir()
    (tampered / SPEC.filename).write_bytes((data_dir / SPEC.filename).read_bytes() + b"\n")
    with pytest.raises(ChecksumError, match="does not match brainbench-gpt4"):
        resolve_dataset_file(SPEC, data_dir=tampered, cache_dir=tmp_path, offline=True)


def test_download_into_cache_then_reuse(data_dir: Path, tmp_path: Path, file_server: tuple[str, Path]) -> None:
    base, root = file_server
    shutil.copy(data_dir / SPEC.filename, root / SPEC.filename)
    spec = replace(SPEC, urls=(f"{base}/missing.csv", f"{base}/{SPEC.filename}"))
    cache = tmp_path / "cache"
    path = resolve_dataset_file(spec, data_dir=None, cache_dir=cache, offline=False)
    assert path == cache / "datasets" / SPEC.filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SPEC.sha256
    assert not list(path.parent.glob("*.incomplete"))
    (root / SPEC.filename).unlink()  # the server no longer has it: the cache must answer
    assert resolve_dataset_file(spec, data_dir=None, cache_dir=cache, offline=True) == path


def test_download_with_wrong_checksum_keeps_nothing(tmp_path: Path, file_server: tuple[str, Path]) -> None:
    base, root = file_server
    (root / SPEC.filename).write_text("doi,journal_section,combined_abstract\n", encoding="utf-8")
    spec = replace(SPEC, urls=(f"{base}/{SPEC.filename}",))
    with pytest.raises(ChecksumError):
        resolve_dataset_file(spec, data_dir=None, cache_dir=tmp_path, offline=False)
    assert list((tmp_path / "datasets").iterdir()) == []


def test_offline_without_copies(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="offline mode forbids downloading"):
        resolve_dataset_file(SPEC, data_dir=tmp_path, cache_dir=tmp_path, offline=True)


def test_unknown_name_suggests(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="Did you mean brainbench-human"):
        load_dataset("brainbench-humans", cache_dir=tmp_path, offline=True)
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")
