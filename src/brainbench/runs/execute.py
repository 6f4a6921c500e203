"""Run a benchmark: draw the A/B order, score both versions of every case, write results as they come.

A run directory holds ``run.json`` (what was run, so it can be reproduced), ``results.jsonl``
(one line per item, appended and flushed as each item is scored) and ``summary.json`` (written
at the end). Starting the same run again in the same directory resumes it: items already
scored are kept, items missing or recorded as errors are scored.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from brainbench import __version__
from brainbench.data import Dataset, TestCase
from brainbench.errors import BrainbenchError, RunError
from brainbench.runs.summary import summarize
from brainbench.scoring import Scorer, TokenScores, apply_template

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
# Fields of run.json that must match for a directory to be resumed.
_RESUME_KEYS = ("model", "scorer", "dataset", "dataset_sha256", "texts", "template", "template_text", "seed")


def ab_labels(item_ids: Sequence[int], seed: int = 42) -> dict[int, int]:
    """The paper's A/B order: seed numpy, one ``rand()`` per row in file order; > 0.5 puts the altered text at A.

    Returns ``{item_id: label}`` with label 1 when the altered version is A (the paper's ``labels.npy``).
    """
    if not item_ids:
        return {}
    draws = np.random.RandomState(seed).rand(max(item_ids) + 1)  # same stream as np.random.seed(seed); rand()
    return {item_id: int(draws[item_id] > 0.5) for item_id in item_ids}


def case_fields(case: TestCase, label: int, status: str) -> dict[str, Any]:
    return {
        "item_id": case.item_id,
        "doi": case.doi,
        "subfield": case.subfield,
        "source": case.source,
        "status": status,
        "label": label,
    }


def decide(label: int, ppl_original: float, ppl_altered: float) -> dict[str, Any]:
    """The paper's decision: the lower PPL is chosen, an exact tie is wrong; confidence = |PPL_A - PPL_B|."""
    ppl_a, ppl_b = (ppl_altered, ppl_original) if label == 1 else (ppl_original, ppl_altered)
    choice = "A" if ppl_a < ppl_b else "B" if ppl_a > ppl_b else "tie"
    return {
        "ppl_original": ppl_original,
        "ppl_altered": ppl_altered,
        "ppl_a": ppl_a,
        "ppl_b": ppl_b,
        "choice": choice,
        "correct": choice != "tie" and (choice == "A") == (label == 0),
        "confidence": abs(ppl_a - ppl_b),
    }


def item_record(case: TestCase, label: int, original: TokenScores, altered: TokenScores, elapsed_s: float) -> dict[str, Any]:
    """One results.jsonl line: raw log-likelihoods plus the paper's decision."""
    return {
        **case_fields(case, label, "ok"),
        "nll_original": original.nll,
        "nll_altered": altered.nll,
        "ntokens_original": original.n_tokens,
        "ntokens_altered": altered.n_tokens,
        **decide(label, original.ppl, altered.ppl),
        "elapsed_s": elapsed_s,
    }


def error_record(case: TestCase, label: int, message: str) -> dict[str, Any]:
    return {**case_fields(case, label, "error"), "error": message}


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """Records of a run directory, the last line per item winning (a resumed run appends retries).

    A torn last line (the process was killed mid-write) is ignored; any other bad line is an error.
    """
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    by_item: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                logger.warning("%s:%d: ignoring a partly written last line", path, number)
                continue
            raise RunError(f"{path}:{number}: not valid JSON; the results file is damaged") from None
        by_item[record["item_id"]] = record
    return sorted(by_item.values(), key=lambda record: record["item_id"])


def _drop_torn_tail(path: Path) -> None:
    """Cut a partly written last line (a killed process) so that appending starts on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".incomplete")
    partial.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def prepare_run_dir(out_dir: Path, run_info: dict[str, Any], overwrite: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    run_file = out_dir / RUN_FILE
    if run_file.is_file() and not overwrite:
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        different = [key for key in _RESUME_KEYS if previous.get(key) != run_info.get(key)]
        if different:
            raise RunError(
                f"{out_dir} holds another run (its {', '.join(different)} differ); "
                "choose another --out, or pass --overwrite to replace it"
            )
        return
    for name in (RESULTS_FILE, SUMMARY_FILE):
        (out_dir / name).unlink(missing_ok=True)
    write_json(run_file, run_info)


def run_benchmark(
    dataset: Dataset,
    scorer: Scorer,
    out_dir: Path,
    *,
    template: tuple[str, str] = ("none", "<choice abstract>"),
    seed: int = 42,
    cases: Sequence[TestCase] | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score ``cases`` (default: all of the dataset) into ``out_dir`` and return the summary.

    ``template`` is (label, text) from ``resolve_template``. Each item is written as soon as it is
    scored; an item the backend cannot score is recorded with ``status="error"`` and the run goes on.
    """
    out_dir = Path(out_dir)
    selected = list(dataset.cases if cases is None else cases)
    labels = ab_labels([case.item_id for case in dataset.cases], seed)
    template_label, template_text = template
    run_info: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "brainbench": __version__,
        "model": scorer.name,
        "scorer": scorer.describe(),
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_sha256": dataset.sha256,
        "texts": dataset.texts,
        "template": template_label,
        "template_text": template_text,
        "seed": seed,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    prepare_run_dir(out_dir, run_info, overwrite)
    run_info = json.loads((out_dir / RUN_FILE).read_text(encoding="utf-8"))

    _drop_torn_tail(out_dir / RESULTS_FILE)
    done = {record["item_id"] for record in read_results(out_dir) if record["status"] == "ok"}
    todo = [case for case in selected if case.item_id not in done]
    total = len(selected)
    if done:
        logger.info("resuming %s: %d of %d items already scored", out_dir, total - len(todo), total)
    if on_progress:
        on_progress(total - len(todo), total)
    # Backends that batch get that many cases per call, grouped by length so that little is padded.
    chunk_size = max(1, int(getattr(scorer, "batch_size", 1) or 1))
    if chunk_size > 1:
        todo.sort(key=lambda case: max(len(case.original), len(case.altered)))
    position = total - len(todo)
    with open(out_dir / RESULTS_FILE, "a", encoding="utf-8") as results:
        for start in range(0, len(todo), chunk_size):
            for record in _score_cases(scorer, todo[start : start + chunk_size], labels, template_text):
                results.write(json.dumps(record) + "\n")
            results.flush()
            position += len(todo[start : start + chunk_size])
            if on_progress:
                on_progress(position, total)

    selected_ids = {case.item_id for case in selected}
    records = [record for record in read_results(out_dir) if record["item_id"] in selected_ids]
    summary = summarize(records, run_info)
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def _score_cases(scorer: Scorer, cases: Sequence[TestCase], labels: dict[int, int], template_text: str) -> list[dict[str, Any]]:
    """Records for ``cases`` scored in one call; if that fails, each case alone, so that only the
    case the backend cannot score is recorded as an error."""
    started = time.perf_counter()
    try:
        pairs = [(apply_template(template_text, case.original), apply_template(template_text, case.altered)) for case in cases]
        scored = scorer.score_pairs(pairs)
    except BrainbenchError as error:
        if len(cases) > 1:
            return [record for case in cases for record in _score_cases(scorer, [case], labels, template_text)]
        case = cases[0]
        logger.warning("item %d (line %d) not scored: %s", case.item_id, case.line, error)
        return [error_record(case, labels[case.item_id], str(error))]
    elapsed_s = (time.perf_counter() - started) / len(cases)
    return [
        item_record(case, labels[case.item_id], original, altered, elapsed_s)
        for case, (original, altered) in zip(cases, scored)
    ]


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(run.json, records) of a run directory."""
    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    return json.loads(run_file.read_text(encoding="utf-8")), read_results(run_dir)

