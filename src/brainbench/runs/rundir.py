"""A run directory: ``run.json`` (``RunInfo``: the spec once, and what a reader needs besides), ``results.jsonl``
(one record per test case) and ``summary.json``. ``write_run_dir`` is their one author (``brainbench run``,
``export``, ``import-published``, ``import-lm-eval`` and ``import-inspect`` all write through it);
``load_run`` their one reader, which also reads directories written by brainbench 0.8 (run.json schema 2,
the spec's fields repeated at its top level).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_FILE",
    "RUN_FILE",
    "SUMMARY_FILE",
    "RunInfo",
    "claim_run_dir",
    "load_run",
    "read_results",
    "release_run_dir",
    "run_dir_store",
    "write_run_dir",
]

from pydantic import ValidationError

from brainbench.db import display_url
from brainbench.errors import InputError, RunError
from brainbench.io import check_output_path, iter_jsonl, read_text, write_json_atomic, write_jsonl_atomic
from brainbench.runs.info import RunInfo
from brainbench.runs.spec import RunSpec
from brainbench.runs.summary import summarize

RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".export.lock"  # held while a run directory is written (shards, a run and its claim)


def read_run_info(path: Path) -> RunInfo:
    """The RunInfo in a run.json file; a damaged or foreign one is a RunError naming it."""
    try:
        raw = json.loads(read_text(path, "run.json"))
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: not valid JSON ({error.msg}); the run directory is damaged") from None
    if not isinstance(raw, dict):
        raise RunError(f"{path}: not a brainbench run.json (expected an object)")
    if "spec" not in raw:
        raise RunError(f"{path}: written by a brainbench older than 0.8 (no spec); run it again to rewrite it")
    try:
        return RunInfo.upgrade(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RunError(f"{path}: not a run.json this brainbench reads ({where}: {first['msg']})") from None


def previous_spec(run_file: Path) -> RunSpec | None:
    """The spec in an existing run.json (None if it has none or cannot be read)."""
    try:
        return read_run_info(run_file).spec
    except RunError:
        return None


def write_run_dir(
    out_dir: Path,
    info: RunInfo,
    records: Sequence[dict[str, Any]] | None,
    *,
    overwrite: bool = False,
) -> dict[str, Any] | None:
    """Write a run directory: run.json, and with ``records`` results.jsonl and summary.json (``records=None``
    claims the directory for a run about to start). A directory that holds another run (another spec) is refused
    unless ``overwrite``. Returns the summary."""
    out_dir = Path(out_dir)
    check_run_dir(out_dir, info.spec, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir / LOCK_FILE):  # shards exporting at once: the last to read the store writes last
        check_run_dir(out_dir, info.spec, overwrite)  # again, now that no other writer is inside
        write_json_atomic(out_dir / RUN_FILE, info.to_json())
        if records is None:
            return None
        write_jsonl_atomic(out_dir / RESULTS_FILE, list(records))
        summary = summarize(records, info)
        write_json_atomic(out_dir / SUMMARY_FILE, summary)
        return summary


def check_run_dir(out: Path, spec: RunSpec | None, overwrite: bool = False) -> None:
    """A run directory about to be written for the run ``spec``: a folder that can be written, and free, or this
    run's own (resumed), or replaced with ``overwrite``. A mistake is an InputError naming --out."""
    out = Path(out)
    check_output_path(out, "folder")
    if overwrite:
        return
    run_file = out / RUN_FILE
    if run_file.is_file():
        other = previous_spec(run_file)
        if other is None:
            raise InputError(
                "--out",
                None,
                f"{out} holds a run.json this brainbench cannot read; choose another --out, or pass "
                "--overwrite to replace it (what it scored is in its results store and is not scored again)",
            )
        if spec is not None and other != spec:
            raise InputError(
                "--out",
                None,
                f"{out} holds another run (its {', '.join(spec.differences(other))} differ); choose "
                "another --out, or pass --overwrite to replace it",
            )
    elif out.is_dir() and any(path.name != LOCK_FILE for path in out.iterdir()):
        raise InputError(
            "--out",
            None,
            f"{out} is a folder with other files in it; choose an empty or new folder, or pass --overwrite",
        )


def claim_run_dir(out_dir: Path, info: RunInfo, *, overwrite: bool = False) -> None:
    """Claim a run directory for a run about to start, before its model loads: its run.json (the spec and run key,
    ``scorer_key`` still None) is written at once, under the directory's lock, so that a different run started
    into it at the same time is refused there and then (the same run, e.g. a sibling shard, shares it). With
    ``overwrite`` the results another run left there go too."""
    out_dir = Path(out_dir)
    if not overwrite and (out_dir / RUN_FILE).is_file() and previous_spec(out_dir / RUN_FILE) == info.spec:
        return  # this run's already (resumed, or a sibling shard's claim): its run.json stays as it is
    if overwrite:
        for name in (RESULTS_FILE, SUMMARY_FILE):
            (out_dir / name).unlink(missing_ok=True)
    write_run_dir(out_dir, info, None, overwrite=overwrite)


def release_run_dir(out_dir: Path, run_key: str) -> None:
    """Give back a claim (``claim_run_dir``) whose run never started scoring (its model did not load): the run.json
    goes if it is still this run's claim and nothing was exported."""
    out_dir = Path(out_dir)
    run_file = out_dir / RUN_FILE
    if not run_file.is_file():
        return
    with _exclusive(out_dir / LOCK_FILE):
        try:
            info = read_run_info(run_file)
        except RunError:
            return
        if info.run_key == run_key and info.scorer_key is None and not (out_dir / RESULTS_FILE).exists():
            run_file.unlink(missing_ok=True)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (POSIX; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: one process per run directory is the user's to ensure
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """Records of a run directory, in item order."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        return []
    records = []
    try:
        numbered = list(iter_jsonl(path, what="results file"))
    except InputError as error:
        raise RunError(f"{error}; the results file is damaged (brainbench export rewrites it)") from None
    for number, record in numbered:
        if not isinstance(record, dict) or "item_id" not in record:
            raise RunError(f"{path}:{number}: not a result record; the results file is damaged (export rewrites it)")
        records.append(record)
    return sorted(records, key=lambda record: record["item_id"])


def run_dir_store(run_dir: Path, given: str | None, environment: str | None) -> str | None:
    """The results store a run directory's scores are in: the one its run.json names (None where it names none, as
    imported runs). ``given`` (``--store``) must be that store, else it is refused with both named; ``environment``
    (``BRAINBENCH_STORE``) is used only where it is that store (it may carry the password run.json leaves out)."""
    run_file = Path(run_dir) / RUN_FILE
    if not run_file.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    recorded = read_run_info(run_file).store
    if recorded is None:
        return given or environment
    if given is not None:
        if display_url(given) != recorded:
            raise RunError(
                f"{run_dir} came from the results store {recorded}, not {display_url(given)} (--store): leave "
                "--store out to use its own store"
            )
        return given
    if environment is not None and display_url(environment) == recorded:
        return environment
    if "***" in recorded:
        raise RunError(f"{run_dir} came from {recorded}, whose password is not kept: pass --store with the full URL")
    return recorded


def load_run(run_dir: Path) -> tuple[RunInfo, list[dict[str, Any]]]:
    """(run.json, records) of a run directory."""
    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    return read_run_info(run_file), read_results(run_dir)
