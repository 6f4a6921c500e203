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
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from brainbench._version import __version__
from brainbench.data import Dataset, TestCase
from brainbench.errors import BrainbenchError, RunError
from brainbench.runs.store import STORE_FILE, ResultsStore, RunItem, json_key, text_key
from brainbench.runs.summary import summarize
from brainbench.scoring import Scorer, Template, TokenScores
from brainbench.scoring.templates import BARE

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
# Fields of run.json that must match for a directory to be resumed.
_RESUME_KEYS = ("model", "scorer_key", "dataset", "dataset_sha256", "texts", "template", "template_sha256", "seed", "condition")
# What makes two runs the same run in the store.
_RUN_IDENTITY = ("scorer_key", "dataset_sha256", "texts", "template", "template_sha256", "seed", "condition")


def ab_labels(item_ids: Sequence[int], seed: int = 42) -> dict[int, int]:
    """The paper's A/B order: seed numpy, one ``rand()`` per row in file order; > 0.5 puts the altered text at A.

    Returns ``{item_id: label}`` with label 1 when the altered version is A (the paper's ``labels.npy``).
    """
    if not item_ids:
        return {}
    draws = np.random.RandomState(seed).rand(max(item_ids) + 1)  # same stream as np.random.seed(seed); rand()
    return {item_id: int(draws[item_id] > 0.5) for item_id in item_ids}


def case_fields(case: TestCase | RunItem, label: int, status: str) -> dict[str, Any]:
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


def item_record(case: TestCase | RunItem, label: int, original: TokenScores, altered: TokenScores, elapsed_s: float | None) -> dict[str, Any]:
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


def error_record(case: TestCase | RunItem, label: int, message: str) -> dict[str, Any]:
    return {**case_fields(case, label, "error"), "error": message}


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """Records of a run directory, in item order."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise RunError(f"{path}:{number}: not valid JSON; the results file is damaged (brainbench export rewrites it)") from None
    return sorted(records, key=lambda record: record["item_id"])


def run_dir_name(model_name: str, dataset_name: str, backend: str = "transformers", condition: str = "full", seed: int = 42) -> str:
    """``<model>__<dataset>``, with ``--<backend>`` after the model for other backends than transformers
    and ``__<condition>`` after the dataset for other conditions than full (``__swapped-seed<seed>``)."""
    model = Path(model_name).name if model_name.endswith(".gguf") else model_name
    if backend != "transformers":
        model += f"--{backend}"
    suffix = "" if condition == "full" else f"__{condition}" + (f"-seed{seed}" if condition == "swapped" else "")
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model) + f"__{dataset_name}{suffix}"


def write_json(path: Path, payload: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".incomplete")
    partial.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def prepare_run_dir(out_dir: Path, run_info: dict[str, Any], overwrite: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    run_file = out_dir / RUN_FILE
    if run_file.is_file() and not overwrite:
        previous = {"condition": "full", **json.loads(run_file.read_text(encoding="utf-8"))}  # runs from before conditions were full
        if "template_sha256" not in previous and previous.get("template_text") is not None:  # runs from before template hashes
            previous["template_sha256"] = text_key(previous["template_text"])
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
    template: Template = BARE,
    seed: int = 42,
    cases: Sequence[TestCase] | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    store: ResultsStore | str | Path | None = None,
    shard: tuple[int, int] | None = None,
    condition: str = "full",
    labels: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """Score ``cases`` (default: all of the dataset) into the results store, export them to
    ``out_dir`` and return the summary.

    ``template`` comes from ``resolve_template`` (the paper's file for the model; default: the bare abstract). ``store`` is a ResultsStore, a
    database URL or a file path (default: ``brainbench.sqlite`` beside ``out_dir``). Every
    scored text is committed at once; texts the store already holds for this scorer are not
    scored again, so re-running an interrupted run resumes it. A case the backend cannot score is
    recorded as an error and the run goes on. ``shard=(i, n)`` scores only the cases whose item id
    is i modulo n, so that n processes or machines writing one store share a run; each exports
    everything the store holds for the run so far. ``condition`` names what ``dataset`` is (see
    ``brainbench.data.conditions``); ``labels`` replaces the seeded A/B order where the condition drew its own.
    """
    out_dir = Path(out_dir)
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store or out_dir.parent / STORE_FILE)
    selected = list(dataset.cases if cases is None else cases)
    labels = dict(labels) if labels is not None else ab_labels([case.item_id for case in dataset.cases], seed)
    scorer_key = store.register_scorer(scorer.fingerprint(), scorer.describe())
    run_info: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "brainbench": __version__,
        "model": scorer.name,
        "scorer": scorer.describe(),
        "scorer_key": scorer_key,
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_sha256": dataset.sha256,
        "texts": dataset.texts,
        "template": template.name,
        "template_sha256": template.sha256,
        "template_chosen_by": template.chosen_by,
        "template_text": template.text,
        "seed": seed,
        "condition": condition,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    run_info["run_key"] = json_key({key: run_info[key] for key in _RUN_IDENTITY})
    run_info["store"] = store.display_url
    prepare_run_dir(out_dir, run_info, overwrite)

    texts = {
        case.item_id: (template.apply(case.original), template.apply(case.altered))
        for case in selected
    }
    items = [
        RunItem(case.item_id, case.doi, case.subfield, case.source, labels[case.item_id], *map(text_key, texts[case.item_id]))
        for case in selected
    ]
    store.register_run(run_info["run_key"], scorer_key, run_info, items)
    had_errors = {item.item_id for item in store.run_items(run_info["run_key"]) if item.error is not None}
    stored = store.stored_texts(scorer_key, [sha for item in items for sha in (item.original_sha256, item.altered_sha256)])
    mine = [(case, item) for case, item in zip(selected, items) if shard is None or case.item_id % shard[1] == shard[0]]
    todo = [case for case, item in mine if not (item.original_sha256 in stored and item.altered_sha256 in stored)]
    total = len(mine)
    if len(todo) < total:
        logger.info("%d of %d items already in the store %s", total - len(todo), total, store.display_url)
    if on_progress:
        on_progress(total - len(todo), total)

    # Backends that batch get that many cases per call, grouped by length so that little is padded.
    chunk_size = max(1, int(getattr(scorer, "batch_size", 1) or 1))
    if chunk_size > 1:
        todo.sort(key=lambda case: max(map(len, texts[case.item_id])))
    position = total - len(todo)
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            outcomes = _score_cases(scorer, [texts[case.item_id] for case in chunk])
            store.add_scores(
                scorer_key,
                [(text, scores, elapsed_s / 2) for case, (pair, elapsed_s) in zip(chunk, outcomes) if not isinstance(pair, str)
                 for text, scores in zip(texts[case.item_id], pair)],
            )
            for case, (pair, _) in zip(chunk, outcomes):
                if isinstance(pair, str):
                    logger.warning("item %d (line %d) not scored: %s", case.item_id, case.line, pair)
                    store.set_item_error(run_info["run_key"], case.item_id, pair)
                elif case.item_id in had_errors:
                    store.set_item_error(run_info["run_key"], case.item_id, None)
            position += len(chunk)
            if on_progress:
                on_progress(position, total)
    finally:  # also on Ctrl-C: the run directory then shows what is done so far
        summary = export_run(store, run_info["run_key"], out_dir, item_ids={case.item_id for case in selected})
    return summary


def export_run(store: ResultsStore, run_key: str, out_dir: Path, item_ids: set[int] | None = None) -> dict[str, Any]:
    """Write a run directory (run.json, results.jsonl, summary.json) from the store; return the summary.

    ``item_ids`` limits it to those cases; cases not scored yet (and without an error) are left out.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info = store.run_info(run_key)
    items = [item for item in store.run_items(run_key) if item_ids is None or item.item_id in item_ids]
    stored = store.get_scores(run_info["scorer_key"], [sha for item in items for sha in (item.original_sha256, item.altered_sha256)])
    records = []
    for item in items:
        if item.original_sha256 in stored and item.altered_sha256 in stored:
            (original, elapsed_a), (altered, elapsed_b) = stored[item.original_sha256], stored[item.altered_sha256]
            elapsed = None if elapsed_a is None or elapsed_b is None else elapsed_a + elapsed_b
            records.append(item_record(item, item.label, original, altered, elapsed))
        elif item.error is not None:
            records.append(error_record(item, item.label, item.error))
    write_json(out_dir / RUN_FILE, run_info)
    partial = out_dir / (RESULTS_FILE + ".incomplete")
    partial.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    os.replace(partial, out_dir / RESULTS_FILE)
    summary = summarize(records, run_info)
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def _score_cases(scorer: Scorer, pairs: Sequence[tuple[str, str]]) -> list[tuple[tuple[TokenScores, TokenScores] | str, float]]:
    """(scores of both texts, or why not, and seconds) per pair, scored in one call; if that
    fails, each pair alone, so that only a pair the backend cannot score becomes an error."""
    started = time.perf_counter()
    try:
        scored = scorer.score_options(pairs)
    except BrainbenchError as error:
        if len(pairs) > 1:
            return [outcome for pair in pairs for outcome in _score_cases(scorer, [pair])]
        return [(str(error), 0.0)]
    elapsed_s = (time.perf_counter() - started) / len(pairs)
    return [(pair_scores, elapsed_s) for pair_scores in scored]


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(run.json, records) of a run directory."""
    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    return json.loads(run_file.read_text(encoding="utf-8")), read_results(run_dir)

