"""Every command under every mistake: for each argument that names a file or folder, each kind of wrong input is
tried through the real CLI. Each must end with one clear line (or succeed where that is right), never a traceback,
before any model loads, and leave every other file, the store included, as it was.

A command joins the matrix by being listed in ``COMMANDS`` (its arguments, each with the role of what it names);
``test_every_file_argument_of_every_command_is_in_the_matrix`` fails for a command or argument nobody listed.
Cases run in this process (typer's runner, a fresh copy of the files per case); a sample also runs as a real
process, which proves the entry point behaves the same. The fast suite runs every twentieth case.
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import sqlite3
import subprocess
import typing
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from brainbench.runs import run_benchmark
from tests.commands import brainbench, invoke
from tests.fakes import FakeScorer

# What each kind of argument can be given wrongly.
MISTAKES = {
    "file": ("missing", "folder", "empty", "utf16", "binary", "truncated"),
    "folder": ("missing", "file", "empty-folder"),
    "run": (
        "missing",
        "file",
        "empty-folder",
        "run.json-broken",
        "run.json-list",
        "run.json-object",
        "results-utf16",
        "results-truncated",
        "zero-items",
        "partial",
    ),
    "database": ("folder", "binary"),  # (an empty file is an empty SQLite database: not a mistake)
    "out-file": ("folder-in-the-way", "under-a-file", "unwritable"),
    "out-folder": ("file-in-the-way", "under-a-file", "unwritable"),
    "out-run": ("file-in-the-way", "under-a-file", "unwritable", "another-run"),
}


@dataclass(frozen=True)
class Command:
    """A command line whose ``{name}`` placeholders are filled from the world (the files of ``world``), and the
    role of each placeholder that the matrix varies."""

    argv: tuple[str, ...]
    roles: dict[str, str]
    may_succeed: tuple[tuple[str, str], ...] = ()  # (placeholder, mistake) cases where succeeding is right
    reports: bool = False  # on failure it prints a report of every problem, not one line (validate)


COMMANDS: dict[str, Command] = {
    "summary": Command(("summary", "{run}"), {"run": "run"}, (("run", "zero-items"), ("run", "partial"))),
    "runs": Command(  # lists the store a run directory came from: its results file is not read
        ("runs", "{run}"),
        {"run": "run"},
        (("run", "zero-items"), ("run", "partial"), ("run", "results-utf16"), ("run", "results-truncated")),
    ),
    "export": Command(
        ("export", "{run}", "--out", "{out}"),
        {"run": "run", "out": "out-run"},
        (("run", "zero-items"), ("run", "partial")),
    ),
    "compare": Command(("compare", "{run}", "{other}"), {"run": "run"}),
    "report": Command(
        ("report", "{run}", "{other}", "--out", "{out}", "--explorer", "{explorer}"),
        {"run": "run", "out": "out-file", "explorer": "out-file"},
    ),
    "explore": Command(("explore", "{run}", "{other}", "--out", "{out}"), {"run": "run", "out": "out-file"}),
    "team": Command(
        ("team", "{run}", "{other}", "--humans", "{participants}", "--abstract-ids", "{abstract_ids}"),
        {"run": "run", "participants": "file", "abstract_ids": "file"},
    ),
    "humans": Command(
        ("humans", "--participants", "{participants}", "--abstract-ids", "{abstract_ids}"),
        {"participants": "file", "abstract_ids": "file"},
        (("participants", "truncated"), ("abstract_ids", "truncated")),
    ),
    "validate": Command(("validate", "{cases}"), {"cases": "file"}, (("cases", "truncated"),), reports=True),
    "run": Command(
        ("run", "--dataset", "{cases}", "--out", "{out}", "--store", "{store}", "--offline"),
        {"cases": "file", "out": "out-run", "store": "database"},
    ),
    "predict": Command(("predict", "{study}", "--offline"), {"study": "file"}),
    "sweep": Command(("sweep", "{sweep}", "--offline"), {"sweep": "file"}),
    "import-published": Command(
        ("import-published", "{published}", "--model", "gpt2", "--out", "{out}", "--data-dir", "{data_dir}"),
        {"published": "folder", "out": "out-run"},
    ),
    "import-lm-eval": Command(
        ("import-lm-eval", "{samples}", "--out", "{out}"), {"samples": "folder", "out": "out-run"}
    ),
    "import-inspect": Command(("import-inspect", "{log}", "--out", "{out}"), {"log": "file", "out": "out-run"}),
    "corpus stats": Command(("corpus", "stats", "{corpus}"), {"corpus": "folder"}),
    "finetune": Command(
        ("finetune", "--corpus", "{corpus}", "--out", "{out}"), {"corpus": "folder", "out": "out-folder"}
    ),
    "author queue": Command(("author", "queue", "--queue", "{queue}"), {"queue": "database"}),
    "author propose": Command(
        ("author", "propose", "{candidates}", "--queue", "{queue}"), {"candidates": "file", "queue": "database"}
    ),
    "author propose-graded": Command(
        ("author", "propose-graded", "{candidates}", "--queue", "{queue}"), {"candidates": "file", "queue": "database"}
    ),
    "author review": Command(("author", "review", "1", "reject", "--queue", "{queue}"), {"queue": "database"}),
    "author add-reviewer": Command(("author", "add-reviewer", "ann", "--queue", "{queue}"), {"queue": "database"}),
    "author remove-reviewer": Command(
        ("author", "remove-reviewer", "ann", "--queue", "{queue}"), {"queue": "database"}
    ),
    "author reviewers": Command(("author", "reviewers", "--queue", "{queue}"), {"queue": "database"}),
    "dataset build": Command(
        ("dataset", "build", "--queue", "{queue}", "--name", "new-set", "--version", "1", "--out", "{out}"),
        {"queue": "database", "out": "out-folder"},
    ),
    "tasks lm-eval": Command(("tasks", "lm-eval", "{out}"), {"out": "out-folder"}),
}
# Arguments the matrix leaves to other tests, and why.
NOT_IN_THE_MATRIX = {
    "data_dir": "a mirror to look in: a missing one means the user cache, then the download (tests/data)",
    "figures": "report's figure folder: written like --out (tests/report)",
    "template_file": "read by the template loader, whose mistakes tests/scoring/test_templates.py tries",
    "reference": "run --memorisation's corpora (tests/runs/test_memorisation.py)",
    "calibration": "predict's track record (tests/cli/test_predict.py)",
    "consent": "study serve starts a server (tests/study)",
    "catch": "study serve starts a server (tests/study)",
    "journals": "corpus build talks to E-utilities (tests/corpus, against a local server)",
    "exclude": "corpus build talks to E-utilities (tests/corpus, against a local server)",
}
NOT_IN_THE_MATRIX_COMMANDS = {
    "study serve": "serves until stopped (tests/study run it on 127.0.0.1)",
    "author serve": "serves until stopped (tests/authoring run it)",
    "corpus build": "talks to E-utilities (tests/corpus, against a local server)",
    "fetch-abstracts": "talks to E-utilities (tests/authoring, against a local server)",
    "author check": "loads the reference model for every item (tests/authoring)",
}

CASES = """doi,journal_section,combined_abstract
a,Behavioral/Cognitive,"Rates [[rose, skyrocketed]] sharply."
b,Behavioral/Cognitive,"Cells [[fired, discharged]] more."
c,Systems/Circuits,"Mice [[explored, investigated]] less."
d,Systems/Circuits,"Spikes [[synchronised, fell]] here."
"""


def _build_world(root: Path, data_dir: Path) -> None:
    from brainbench.authoring.queue import ReviewQueue
    from brainbench.data import load_cases

    (root / "cases.csv").write_text(CASES, encoding="utf-8")
    dataset = load_cases(root / "cases.csv")
    store = root / "store.sqlite"
    run_benchmark(dataset, FakeScorer(), root / "run", store=store)
    run_benchmark(dataset, FakeScorer(), root / "other", store=store, seed=7)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(dataset, FakeScorer(interrupt_after=0, tag="zero"), root / "zero", store=store, seed=3)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(dataset, FakeScorer(interrupt_after=1, tag="partial"), root / "partial", store=store, seed=5)
    for name in ("participant_data.csv", "abstract_id_doi.csv"):
        shutil.copy(data_dir / name, root / name)
    (root / "study.md").write_text("## Background\nB.\n## Methods\nM.\n## Outcomes\n- up\n- down\n", encoding="utf-8")
    (root / "sweep.yaml").write_text(f"datasets: [{root / 'cases.csv'}]\nmodels:\n  - {{}}\n", encoding="utf-8")
    shutil.copytree(data_dir / "published_results" / "gpt2" / "human_abstracts", root / "published")
    (root / "samples").mkdir()
    (root / "samples" / "samples_brainbench_human.jsonl").write_text('{"doc": {}}\n', encoding="utf-8")
    (root / "log.json").write_text('{"version": 2, "status": "success"}\n', encoding="utf-8")
    (root / "corpus").mkdir()
    (root / "corpus" / "train.jsonl").write_text('{"text": "Neurons fire."}\n', encoding="utf-8")
    (root / "corpus" / "manifest.json").write_text(json.dumps({"files": {"train": ["train.jsonl"]}}), encoding="utf-8")
    (root / "candidates.jsonl").write_text('{"doi": "x", "text": "Neurons fired more."}\n', encoding="utf-8")
    ReviewQueue(root / "queue.sqlite").engine.dispose()
    gc.collect()  # the stores' engines: closed, so that their databases are whole files to copy
    for database in root.glob("*.sqlite"):
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.fixture(scope="module")
def template_world(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("world")
    _build_world(root, data_dir)
    return root


PLACEHOLDER_FILES = {
    "run": "run",
    "other": "other",
    "participants": "participant_data.csv",
    "abstract_ids": "abstract_id_doi.csv",
    "cases": "cases.csv",
    "store": "store.sqlite",
    "study": "study.md",
    "sweep": "sweep.yaml",
    "published": "published",
    "samples": "samples",
    "log": "log.json",
    "corpus": "corpus",
    "queue": "queue.sqlite",
    "candidates": "candidates.jsonl",
    "out": "new-out",
    "explorer": "new-explorer.html",
}


def copy_world(template: Path, root: Path) -> Path:
    """A fresh copy of the world whose run directories name the copy's store."""
    world = root / "world"
    shutil.copytree(template, world, ignore=shutil.ignore_patterns("*.sqlite-wal", "*.sqlite-shm"))
    for run_dir in ("run", "other", "zero", "partial"):
        run_file = world / run_dir / "run.json"
        info = json.loads(run_file.read_text(encoding="utf-8"))
        info |= {"store": str(world / "store.sqlite"), "out": str(world / run_dir)}
        run_file.write_text(json.dumps(info), encoding="utf-8")
    return world


def make_mistake(world: Path, role: str, mistake: str) -> Path:
    """A path of ``role`` given wrongly as ``mistake`` (inside ``world``)."""
    bad = world / "bad"
    if mistake == "missing":
        return bad / "missing"
    if mistake in ("folder", "folder-in-the-way", "empty-folder"):
        bad.mkdir(parents=True, exist_ok=True)
        return bad
    if mistake in ("file", "file-in-the-way"):
        bad.write_text("not a folder\n", encoding="utf-8")
        return bad
    if mistake == "under-a-file":
        bad.write_text("a file\n", encoding="utf-8")
        return bad / "inside"
    if mistake == "unwritable":
        return Path("/proc/brainbench-cannot-write-here/out")
    if mistake == "another-run":
        return world / "other"
    if mistake in ("zero-items", "partial"):
        return world / {"zero-items": "zero", "partial": "partial"}[mistake]
    if mistake.startswith(("run.json", "results")):
        run_dir = world / "run"
        damage = {
            "run.json-broken": ("run.json", b"{broken"),
            "run.json-list": ("run.json", b"[]"),
            "run.json-object": ("run.json", b"{}"),
            "results-utf16": ("results.jsonl", (run_dir / "results.jsonl").read_text().encode("utf-16")),
            "results-truncated": ("results.jsonl", (run_dir / "results.jsonl").read_bytes()[:150]),
        }[mistake]
        (run_dir / damage[0]).write_bytes(damage[1])
        return run_dir
    bad.parent.mkdir(parents=True, exist_ok=True)
    original = bad  # a file of this role's kind, given wrong contents
    contents = {
        "empty": b"",
        "utf16": CASES.encode("utf-16"),
        "binary": bytes(range(256)) * 8,
        "truncated": CASES.encode()[:60],
    }[mistake]
    original.write_bytes(contents)
    return original


def snapshot(world: Path, skip: Path | None) -> dict[str, str]:
    """sha256 of every file under ``world`` (those under ``skip`` left out); of an SQLite database, its contents
    (opening one to read it may leave SQLite's own -wal and -shm files beside it, which change nothing)."""
    hashes = {}
    for path in sorted(world.rglob("*")):
        if not path.is_file() or (skip is not None and skip in (path, *path.parents)):
            continue
        if path.name.endswith((".lock", ".sqlite-wal", ".sqlite-shm")):
            continue
        if path.suffix == ".sqlite" and path.read_bytes()[:16] == b"SQLite format 3\x00":
            with closing(sqlite3.connect(path)) as connection:
                contents = "\n".join(connection.iterdump()).encode()
        else:
            contents = path.read_bytes()
        hashes[str(path.relative_to(world))] = hashlib.sha256(contents).hexdigest()
    return hashes


def matrix() -> list[tuple[str, str, str]]:
    return [
        (name, placeholder, mistake)
        for name, command in COMMANDS.items()
        for placeholder, role in command.roles.items()
        for mistake in MISTAKES[role]
    ]


CASES_IN_MATRIX = matrix()


def _param(index: int, case: tuple[str, str, str]) -> object:
    marks = () if index % 20 == 0 else (pytest.mark.slow,)
    return pytest.param(*case, id="-".join(case).replace(" ", "_"), marks=marks)


def fill(command: Command, world: Path, placeholder: str, wrong: Path) -> list[str]:
    paths = {name: str(world / file) for name, file in PLACEHOLDER_FILES.items()} | {placeholder: str(wrong)}
    return [part.format(**paths, data_dir=world / "data") if "{" in part else part for part in command.argv]


PARTIAL_EXIT = 3  # a partial run's summary: not a failure, not a finished run either


def check_outcome(result: subprocess.CompletedProcess, must_fail: bool, reports: bool = False) -> None:
    """No traceback, no model loaded; a failure is exit code 1 and one line ("error: ..."), followed only by the
    indented list of problems where a file has several."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and "loading" not in result.stderr, result.stderr
    if must_fail:
        assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr)
    else:
        assert result.returncode in (0, 1, PARTIAL_EXIT), (result.returncode, result.stderr)
    if result.returncode == 1 and not reports:
        assert lines[0].startswith("error: ") and all(line.startswith("  ") for line in lines[1:]), result.stderr


@pytest.mark.parametrize(("name", "placeholder", "mistake"), [_param(i, c) for i, c in enumerate(CASES_IN_MATRIX)])
def test_a_command_given_a_wrong_path(
    name: str, placeholder: str, mistake: str, template_world: Path, tmp_path: Path, data_dir: Path
) -> None:
    world = copy_world(template_world, tmp_path)
    (world / "data").symlink_to(data_dir)
    command = COMMANDS[name]
    wrong = make_mistake(world, command.roles[placeholder], mistake)
    out = world / PLACEHOLDER_FILES["out"] if placeholder != "out" else None
    before = snapshot(world, out)
    result = invoke(*fill(command, world, placeholder, wrong))
    must_fail = (placeholder, mistake) not in command.may_succeed
    check_outcome(result, must_fail, command.reports)
    if result.returncode == 1:
        assert snapshot(world, out) == before  # nothing written, nothing changed
        assert out is None or not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES_IN_MATRIX[5::25], ids=lambda case: "-".join(case).replace(" ", "_"))
def test_the_entry_point_answers_as_the_library_does(
    case: tuple[str, str, str], template_world: Path, tmp_path: Path, data_dir: Path
) -> None:
    """A sample of the matrix as real processes: the same exit code and the same one line."""
    name, placeholder, mistake = case
    answers = []
    for attempt in ("in-process", "process"):
        world = copy_world(template_world, tmp_path / attempt)
        (world / "data").symlink_to(data_dir)
        command = COMMANDS[name]
        argv = fill(command, world, placeholder, make_mistake(world, command.roles[placeholder], mistake))
        result = invoke(*argv) if attempt == "in-process" else brainbench(*argv)
        check_outcome(result, (placeholder, mistake) not in command.may_succeed, command.reports)
        answers.append((result.returncode, result.stderr.replace(str(world), "WORLD")))
    assert answers[0] == answers[1]


def path_arguments() -> dict[str, set[str]]:
    """command -> the names of its arguments typed as paths (read from the commands' signatures)."""
    import brainbench.cli  # noqa: F401  (registers every command)
    from brainbench.cli.app import app

    found: dict[str, set[str]] = {}

    def walk(group: typing.Any, prefix: str) -> None:
        for info in group.registered_commands:
            name = prefix + (info.name or info.callback.__name__.removesuffix("_command").replace("_", "-"))
            hints = typing.get_type_hints(info.callback, include_extras=True)
            found[name] = {arg for arg, hint in hints.items() if arg != "return" and "Path" in str(hint)}
        for sub in group.registered_groups:
            walk(sub.typer_instance, prefix + sub.name + " ")

    walk(app, "")
    return found


def test_every_file_argument_of_every_command_is_in_the_matrix() -> None:
    """A new command, or a new file argument, must join the matrix (or say here why another test covers it)."""
    aliases = {
        "run_dirs": "run",
        "run_dir": "run",
        "samples_dir": "samples",
        "path": "published",
        "sweep_file": "sweep",
        "humans": "participants",
    }
    missing = []
    for name, arguments in path_arguments().items():
        if name in NOT_IN_THE_MATRIX_COMMANDS:
            continue
        command = COMMANDS.get(name)
        for argument in sorted(arguments - set(NOT_IN_THE_MATRIX)):
            placeholder = aliases.get(argument, argument)
            if command is None or placeholder not in command.roles | {"other": ""}:
                missing.append(f"{name} {argument}")
    assert missing == []
