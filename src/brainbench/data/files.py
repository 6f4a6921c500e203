"""Read test-case files (CSV or JSONL) into validated TestCases: the I/O edge of ``brainbench.data``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

from brainbench.data.cases import REQUIRED_COLUMNS, Problem, TestCase, TextsMode, case_from_row
from brainbench.data.grid import GRADED_COLUMNS
from brainbench.errors import InputError, InputErrors


@dataclass(frozen=True, slots=True)
class Dataset:
    """The scorable cases of one file, with every problem found while reading it."""

    name: str
    path: Path
    sha256: str
    source: str  # "human", "gpt4" or a user label
    texts: TextsMode
    n_rows: int
    cases: tuple[TestCase, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode_utf8(data: bytes, source: str) -> str:
    """Decode UTF-8 (a BOM is allowed); a bad byte is reported with its line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        bad = data[error.start : error.start + 1].hex()
        raise InputError(
            source, line, f"not valid UTF-8 (byte 0x{bad} at column {column}); save the file as UTF-8"
        ) from None


def read_rows(text: str, source: str, fmt: str) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[Problem]]:
    """Split a CSV or JSONL text into (columns, [(line, row)], problems). Lines are 1-based."""
    problems: list[Problem] = []
    rows: list[tuple[int, dict[str, str]]] = []
    if fmt == "jsonl":
        columns: list[str] = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(Problem(source, line_no, f"not valid JSON ({error.msg} at column {error.colno})"))
                continue
            if not isinstance(record, dict):
                problems.append(Problem(source, line_no, "expected a JSON object per line"))
                continue
            for key in record:
                if key not in columns:
                    columns.append(key)
            # lists and numbers stay JSON text (an "options" list is read back with json.loads)
            rows.append(
                (
                    line_no,
                    {k: "" if v is None else v if isinstance(v, str) else json.dumps(v) for k, v in record.items()},
                )
            )
        return columns, rows, problems

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [], [Problem(source, 1, "the file is empty")]
    columns = [name.strip() for name in header]
    next_line = reader.line_num + 1
    for values in reader:
        start_line, next_line = next_line, reader.line_num + 1
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            problems.append(
                Problem(source, start_line, f"{len(values)} fields, expected {len(columns)} as in the header")
            )
            continue
        rows.append((start_line, dict(zip(columns, values))))
    return columns, rows, problems


def parse_cases(
    text: str, *, source: str, fmt: str = "csv", case_source: str = "user", texts: TextsMode = "released"
) -> tuple[int, list[TestCase], list[Problem]]:
    """Parse a whole file's text: (number of rows, scorable cases, all problems). Pure."""
    columns, rows, problems = read_rows(text, source, fmt)
    if "values" in columns:  # graded cases
        required = [*GRADED_COLUMNS, *([] if "subfield" in columns else ["journal_section"])]
    else:  # "subfield" may name the journal_section, as in graded files
        required = [
            c
            for c in REQUIRED_COLUMNS
            if not (c == "combined_abstract" and "options" in columns)
            and not (c == "journal_section" and "subfield" in columns)
        ]
    missing = [c for c in required if c not in columns]
    if missing and rows:
        problems.append(
            Problem(source, 1, f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}")
        )
        return len(rows), [], problems
    cases: list[TestCase] = []
    seen_ids: dict[int, int] = {}
    seen_dois: dict[str, int] = {}
    for index, (line, row) in enumerate(rows):
        item_id = index
        if (given := (row.get("item_id") or "").strip()) != "":
            if not given.isdigit():
                problems.append(Problem(source, line, f"item_id {given!r} is not a non-negative integer", row=index))
                continue
            item_id = int(given)
        if item_id in seen_ids:
            problems.append(
                Problem(source, line, f"duplicate item_id {item_id} (first on line {seen_ids[item_id]})", row=index)
            )
            continue
        seen_ids[item_id] = line
        case, row_problems = case_from_row(
            row, item_id=item_id, line=line, source_name=source, row_index=index, case_source=case_source, texts=texts
        )
        problems.extend(row_problems)
        if case is None:
            continue
        if case.doi and case.doi in seen_dois:
            problems.append(
                Problem(
                    source,
                    line,
                    f"duplicate doi {case.doi} (first on line {seen_dois[case.doi]})",
                    "warning",
                    row=index,
                )
            )
        seen_dois.setdefault(case.doi, line)
        cases.append(case)
    if not rows and not problems:
        problems.append(Problem(source, 1, "no test cases in the file"))
    return len(rows), cases, problems


def _format_of(path: Path) -> str:
    return "jsonl" if path.suffix.lower() in {".jsonl", ".ndjson"} else "csv"


def read_records(path: Path, required: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for each record of a CSV or JSONL file (told apart by the extension); the first
    problem, or a record without a non-empty ``required`` field, raises InputError naming file and line."""
    path = Path(path)
    fmt = _format_of(path)
    columns, rows, problems = read_rows(decode_utf8(path.read_bytes(), str(path)), str(path), fmt)
    if problems:
        raise InputError(path, problems[0].line, problems[0].reason)
    if required is not None and fmt == "csv" and required not in columns:
        raise InputError(path, 1, f"no '{required}' column (columns: {', '.join(columns)})")
    for line, row in rows:
        if required is not None and not (row.get(required) or "").strip():
            raise InputError(path, line, f"'{required}' is missing or empty")
    return rows


def inspect_file(path: Path, *, case_source: str = "user", texts: TextsMode = "released") -> Dataset:
    """Read and check a file, keeping every problem (for ``brainbench validate``); raises only if unreadable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, None, "a folder, not a dataset file (CSV or JSONL)")
    if not path.is_file():
        raise InputError(path, None, "no such file")
    data = path.read_bytes()
    text = decode_utf8(data, str(path))
    n_rows, cases, problems = parse_cases(
        text, source=path.name, fmt=_format_of(path), case_source=case_source, texts=texts
    )
    return Dataset(
        name=path.name,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        source=case_source,
        texts=texts,
        n_rows=n_rows,
        cases=tuple(cases),
        problems=tuple(problems),
    )


def load_cases(
    path: Path, *, name: str | None = None, case_source: str = "user", texts: TextsMode = "released"
) -> Dataset:
    """Load a file for scoring. Raises InputErrors if any row cannot be scored (listing every such problem).

    Rows with problems that still have texts to score (a repaired bracket, an ambiguous comma, or
    released columns) load; their problems stay in ``Dataset.problems`` for the caller to report.
    """
    dataset = require_scorable(inspect_file(path, case_source=case_source, texts=texts))
    return dataset if name is None else replace(dataset, name=name)


def require_scorable(dataset: Dataset) -> Dataset:
    """``dataset`` if every row with an error still loaded (a repaired or released reading); else InputErrors
    listing the errors of the rows that did not."""
    loaded_lines = {case.line for case in dataset.cases}
    blocking = [str(p) for p in dataset.errors if p.line not in loaded_lines]
    if blocking or not dataset.cases:
        raise InputErrors(blocking or [f"{dataset.name}: no scorable test cases"])
    return dataset
