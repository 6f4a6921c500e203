"""Inspect's logs of the brainbench tasks (``brainbench.integrations.inspect_task``) -> normal run directories.

A log holds, per sample (one question: a case in one order), its metadata (item, the order shown) and the
scorer's answer record (status, letter, probabilities, texts, source, attempts); its header holds the task's
metadata (dataset, sha256, seed, prompt) and the model. Each case's two questions become one choice-protocol
record, combined as ``brainbench run --protocol choice`` combines them (``runs.records.choice_record``), so that
``brainbench summary``, ``compare`` and ``report`` work on the run. A sample whose conversation is not
the task's question alone (a system message, another solver) is refused; a case with one of its orders missing
(``--limit`` cut it in half, the eval stopped) is left out, and the run is marked partial.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.data.task import instructions
from brainbench.errors import InputError, MissingDependencyError
from brainbench.runs.records import choice_record, error_record
from brainbench.runs.rundir import RunInfo, write_run_dir
from brainbench.runs.spec import RunSpec
from brainbench.runs.store import RunCase, text_key
from brainbench.scoring.choice import PROMPT_VERSION, prompt_key, prompt_template_text

logger = logging.getLogger(__name__)

TASK_KEYS = (
    "brainbench",
    "protocol",
    "dataset",
    "dataset_sha256",
    "texts",
    "seed",
    "retries",
    "prompt",
    "prompt_sha256",
)
SAMPLE_KEYS = ("item_id", "doi", "subfield", "source", "order", "shown")
ANSWER_KEYS = ("status", "letter", "probabilities", "texts", "source", "attempts")
LOG_SUFFIXES = (".eval", ".json")


@dataclass(frozen=True, slots=True)
class Question:
    """One sample of a log: a case asked in one order, and the answer (or why there is none)."""

    item_id: int
    doi: str | None
    subfield: str | None
    source: str | None
    order: int  # 0: the drawn order, 1: reversed
    shown: tuple[int, ...]  # the version under each letter
    prompt_sha256: str  # of the chat as brainbench keys it (``scoring.choice.prompt_key``)
    answer: dict[str, Any] | None
    error: str | None
    elapsed_s: float | None


def read_inspect_log(path: Path, header_only: bool = False) -> Any:
    """An Inspect log (``.eval`` or ``.json``), read by inspect_ai itself."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError as error:
        raise MissingDependencyError(
            "reading Inspect logs needs inspect-ai: pip install 'brainbench[inspect]'"
        ) from error
    try:
        return read_eval_log(str(path), header_only=header_only, resolve_attachments=True)
    except Exception as error:  # inspect_ai raises many kinds (zip, JSON, validation) for a file that is not its log
        raise InputError(path, None, f"not an Inspect log ({type(error).__name__}: {str(error)[:200]})") from error


def is_brainbench_log(log: Any) -> bool:
    metadata = log.eval.metadata or {}
    return all(key in metadata for key in TASK_KEYS) and metadata["protocol"] == "choice"


def find_logs(path: Path) -> dict[str, Path]:
    """The newest log of each brainbench task under ``path`` (Inspect's log folder, or one log file), by task name."""
    path = Path(path)
    if path.is_file():
        log = read_inspect_log(path, header_only=True)
        if not is_brainbench_log(log):
            raise InputError(path, None, "not a log of a brainbench task (inspect eval brainbench/human ...)")
        return {log.eval.task: path}
    if not path.is_dir():
        raise InputError(path, None, "no such file or folder")
    found: dict[str, tuple[str, Path]] = {}
    for candidate in sorted(file for file in path.rglob("*") if file.suffix in LOG_SUFFIXES and file.is_file()):
        try:
            log = read_inspect_log(candidate, header_only=True)
        except InputError:
            continue  # another JSON file (Inspect's listing, a config)
        if is_brainbench_log(log) and (log.eval.task not in found or log.eval.created >= found[log.eval.task][0]):
            found[log.eval.task] = (log.eval.created, candidate)
    if not found:
        raise InputError(
            path,
            None,
            "no log of a brainbench task here: run inspect eval brainbench/human (or "
            "src/brainbench/integrations/inspect_task.py@human) with --log-dir",
        )
    return {name: candidate for name, (_, candidate) in sorted(found.items())}


def sample_question(sample: Any, path: Path) -> Question:
    """The question of one sample, checked: a brainbench sample, asked as the task asks it."""
    where = f"sample {sample.id}"
    missing = [key for key in SAMPLE_KEYS if key not in (sample.metadata or {})]
    if missing:
        raise InputError(
            path, None, f"{where}: not a brainbench task's sample (its metadata lacks {', '.join(missing)})"
        )
    metadata = sample.metadata
    chat = as_chat(sample.input) if isinstance(sample.input, list) else [{"role": "user", "content": sample.input}]
    shown = tuple(int(version) for version in metadata["shown"])
    if len(chat) != 1 or chat[0]["role"] != "user" or not chat[0]["content"].startswith(instructions(len(shown))):
        raise InputError(path, None, f"{where}: its input is not brainbench's question")
    calls = [event for event in sample.events or () if event.event == "model"]
    if any(as_chat(event.input) != chat for event in calls):
        raise InputError(
            path,
            None,
            f"{where}: the model was sent other messages than the task's question (a system message, "
            "another solver?): not brainbench's choice protocol",
        )
    temperature = next((event.config.temperature for event in calls if event.config.temperature not in (0, None)), None)
    if temperature is not None:
        raise InputError(
            path,
            None,
            f"{where}: asked at temperature {temperature}; brainbench's choice protocol asks greedily "
            "(leave --temperature out)",
        )
    answer = next(
        (
            dict(score.metadata)
            for score in (sample.scores or {}).values()
            if score.metadata and all(key in score.metadata for key in ANSWER_KEYS)
        ),
        None,
    )
    error = sample.error.message if sample.error is not None else None
    if answer is None and error is None:
        error = "not scored"
    return Question(
        int(metadata["item_id"]),
        metadata["doi"],
        metadata["subfield"],
        metadata["source"],
        int(metadata["order"]),
        shown,
        text_key(prompt_key(chat)),
        None if answer is None else {key: answer[key] for key in ANSWER_KEYS},
        error,
        getattr(sample, "total_time", None),
    )


def as_chat(messages: Sequence[Any]) -> list[dict[str, str]]:
    """Inspect's chat messages as brainbench keys them (``scoring.choice.prompt_key``)."""
    return [{"role": message.role, "content": message.text} for message in messages]


def case_records(questions: Sequence[Question], path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(one choice record per case asked in both orders, by item id; the item ids with an order missing). A case
    whose question failed (an error Inspect recorded) is an error record, as a failed case of ``brainbench run``."""
    by_item: dict[int, dict[int, Question]] = defaultdict(dict)
    for question in questions:
        if question.order in by_item[question.item_id]:
            raise InputError(
                path,
                None,
                f"item {question.item_id} asked twice in order {question.order} (--epochs > 1?): "
                "brainbench asks each question once",
            )
        by_item[question.item_id][question.order] = question
    records, incomplete = [], []
    for item_id, orders in sorted(by_item.items()):
        if sorted(orders) != [0, 1]:
            incomplete.append(item_id)
            continue
        asked, reversed_ = orders[0], orders[1]
        case = RunCase(
            item_id,
            asked.doi,
            asked.subfield,
            asked.source,
            (asked.prompt_sha256, reversed_.prompt_sha256),
            asked.shown,
        )
        failed = next((question.error for question in (asked, reversed_) if question.answer is None), None)
        if failed is not None:
            records.append(error_record(case, failed))
            continue
        times = [question.elapsed_s for question in (asked, reversed_)]
        elapsed = None if any(value is None for value in times) else sum(times)  # type: ignore[misc]
        records.append(choice_record(case, [asked.answer, reversed_.answer], elapsed))  # type: ignore[list-item]
    return records, incomplete


def import_inspect_log(
    path: Path, out_dir: Path, *, model: str | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Write one run directory from an Inspect log of a brainbench task; return its summary."""
    path = Path(path)
    log = read_inspect_log(path)
    if not is_brainbench_log(log):
        raise InputError(path, None, "not a log of a brainbench task (inspect eval brainbench/human ...)")
    if not log.samples:
        raise InputError(path, None, f"no samples (the eval's status: {log.status})")
    records, incomplete = case_records([sample_question(sample, path) for sample in log.samples], path)
    if incomplete:
        logger.warning(
            "%s: %d case(s) asked in one order only are left out (items %s)", path, len(incomplete), incomplete[:10]
        )
    task = log.eval.metadata
    spec = RunSpec(
        backend="inspect",
        model=log.eval.model,
        template=task["prompt"],
        template_sha256=task["prompt_sha256"],
        dataset=task["dataset"],
        dataset_sha256=task["dataset_sha256"],
        texts=task["texts"],
        seed=task["seed"],
        protocol="choice",
    )
    info = RunInfo.build(
        spec,
        model=model or log.eval.model,
        scorer={
            "backend": "inspect",
            "model": log.eval.model,
            "model_base_url": log.eval.model_base_url,
            "inspect_ai": (log.eval.packages or {}).get("inspect_ai"),
            "task": log.eval.task,
            "retries": task["retries"],
            "max_tokens": task.get("max_tokens"),
            "top_logprobs": task.get("top_logprobs"),
            "brainbench_task": task["brainbench"],
            "status": log.status,
            "source": str(path.resolve()),
        },
        n_requested=len(records) + len(incomplete),
        template_text=prompt_template_text() if task["prompt"] == PROMPT_VERSION else None,
    )
    summary = write_run_dir(Path(out_dir), info, records, overwrite=overwrite)
    assert summary is not None
    return summary
