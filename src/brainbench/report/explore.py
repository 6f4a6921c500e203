"""The item explorer: one self-contained static HTML page (no server; works from ``file://``) to look at items.

For every item: its subfield and DOI, the versions with the altered words marked, each run's choice and confidence,
the experts on it, and, for runs whose scores kept each token's character offsets (the transformers backend), the
per-token surprisal along the text with the tokens whose log-probability differs between the versions shaded.
Lists answer questions: items every run gets wrong, items where experts beat models, items where runs disagree
most, items whose decision changes between the paper's ppl rule and bytes / self-certainty; by subfield; free text.

``explorer_payload`` builds the page's data (plain JSON) from runs, the dataset, the experts' trials and token
evidence; ``render_explorer`` turns it into the HTML string. ``load_token_evidence`` is the one function here that
reads anything: a run's results store.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainbench._version import __version__
from brainbench.analysis.items import TokenEvidence, evidence_summary, item_table, token_evidence, word_changes
from brainbench.analysis.tables import model_key, results_table
from brainbench.data import DATASETS, GRADED_DATASETS, Dataset, load_dataset
from brainbench.errors import BrainbenchError, InputError, RunError
from brainbench.io import check_output_path, write_text_atomic
from brainbench.runs.collection import human_trials_for, name_runs, one_dataset, read_runs
from brainbench.runs.info import RunInfo
from brainbench.runs.records import with_decision
from brainbench.runs.store import ResultsStore, text_key
from brainbench.scoring.rules import LETTERS
from brainbench.scoring.templates import SLOT, apply_template

OTHER_RULES = ("bytes", "self-certainty")  # compared with the paper's ppl rule ("decision changes between rules")
_MILLI = 1000  # surprisal is kept in thousandths of a nat (uint16: up to 65.5 nats) in the page


@dataclass(frozen=True)
class ExplorerRun:
    """One run as the explorer shows it: its name, run.json, records and token evidence (or why it has none)."""

    name: str
    info: RunInfo
    records: Sequence[dict[str, Any]]
    evidence: Mapping[int, TokenEvidence]
    evidence_note: str | None = None  # why there is no token evidence (None: there is)


def load_token_evidence(
    info: RunInfo, dataset: Dataset, store: str | Path | None = None
) -> tuple[dict[int, TokenEvidence], str | None]:
    """({item id: token evidence}, None) for a run whose results store kept each token's character offsets, else
    ({}, why not). The texts scored are rebuilt from the dataset and the run's template and checked against the
    store's sha256 of each; ``store`` overrides the store named in run.json."""
    backend = info.backend
    if info.protocol == "choice":
        return {}, "choice protocol: the model answered a question, no per-token scores"
    if backend == "published":
        return {}, "imported from published perplexities: no per-token scores"
    location = store or info.store
    if not location:
        return {}, "run.json names no results store"
    if "***" in str(location):
        return {}, f"its results store {location} keeps no password: pass --store with the full URL"
    try:
        results = ResultsStore(location, create=False)
        cases = results.run_cases(info.run_key)
        stored = results.get_scores(info.scorer_key, [sha for case in cases for sha in case.options])
    except BrainbenchError as error:
        return {}, f"its results store could not be read ({error})"
    template = info.template_text or SLOT
    by_id = {case.item_id: case for case in dataset.cases}
    evidence: dict[int, TokenEvidence] = {}
    for case in cases:
        test_case = by_id.get(case.item_id)
        if test_case is None or len(case.options) != 2:
            continue
        prompts = tuple(apply_template(template, option) for option in test_case.options)
        scores = [stored.get(sha) for sha in case.options]
        if tuple(map(text_key, prompts)) != case.options or any(
            score is None or score.scores.token_offsets is None for score in scores
        ):
            continue
        starts, lengths = [], []
        for prompt, option in zip(prompts, test_case.options):  # where the version sits in its prompt
            abstract = option.strip()
            starts.append(max(prompt.find(abstract), 0) - option.find(abstract))
            lengths.append(len(option))
        evidence[case.item_id] = token_evidence(
            (prompts[0], prompts[1]),
            (starts[0], starts[1]),
            (lengths[0], lengths[1]),
            (scores[0].scores.token_offsets, scores[1].scores.token_offsets),  # type: ignore[union-attr]
            (scores[0].scores.token_logprobs, scores[1].scores.token_logprobs),  # type: ignore[union-attr]
        )
    if evidence:
        return evidence, None
    if backend != "transformers":
        return {}, f"the {backend} backend gives no token offsets"
    return {}, "scored before brainbench kept token offsets (score again into a new --store to see them)"


def short_name(name: str) -> str:
    """A model's name without its organisation (``mistralai--Mistral-7B-v0.1`` -> ``Mistral-7B-v0.1``)."""
    return model_key(name).split("--", 1)[-1] if "--" in model_key(name) else name


def _short_names(names: Sequence[str]) -> list[str]:
    shorts = [short_name(name) for name in names]
    return [short if shorts.count(short) == 1 else name for name, short in zip(names, shorts)]


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(values.astype("<u2").tobytes()).decode("ascii")


def _number(value: Any, digits: int = 6) -> float | None:
    """A JSON number (None for NaN/missing), to ``digits`` significant digits: the page shows 3-4."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    return float(f"{float(value):.{digits}g}")


def _rule_results(runs: Sequence[ExplorerRun]) -> dict[str, pd.DataFrame]:
    """{rule: results_table under it} for the rules some runs can be decided by (the others are left out)."""
    tables = {}
    for rule in OTHER_RULES:
        decided = {}
        for run in runs:
            try:
                decided[run.name] = [with_decision(record, rule) for record in run.records]
            except BrainbenchError:
                continue
        if decided:
            tables[rule] = results_table(decided)
    return tables


def _decisions(runs: Sequence[ExplorerRun], results: pd.DataFrame, rules: Mapping[str, pd.DataFrame]) -> dict:
    """{item id: per run, None or [correct, chosen version (0 real, 1 altered, -1 tie), confidence, its percentile
    within the run, PPL real, PPL altered, {rule: correct}]}."""
    percentile = results.groupby("model")["confidence"].rank(pct=True)
    confidence_percentile = dict(zip(zip(results["model"], results["item_id"]), percentile))
    rule_correct = {
        rule: dict(zip(zip(frame["model"], frame["item_id"]), frame["correct"].astype(bool)))
        for rule, frame in rules.items()
    }
    decisions: dict[int, list[Any]] = {}
    for index, run in enumerate(runs):
        model = model_key(run.name)
        for record in run.records:
            if record.get("status", "ok") != "ok":
                continue
            key = (model, record["item_id"])
            letter = record.get("choice")
            shown = record.get("shown") or ([1, 0] if record["label"] else [0, 1])  # older records: pairs
            decisions.setdefault(record["item_id"], [None] * len(runs))[index] = [
                int(bool(record["correct"])),
                -1 if letter in (None, "tie") else int(shown[LETTERS.index(letter)] != 0),
                _number(record.get("confidence")),
                _number(confidence_percentile.get(key), 3),
                _number(record.get("ppl_original")),
                _number(record.get("ppl_altered")),
                {rule: int(correct[key]) for rule, correct in rule_correct.items() if key in correct},
            ]
    return decisions


def _items(dataset: Dataset, table: pd.DataFrame, decisions: Mapping[int, list[Any]], subfields: list[str]) -> list:
    """Each item the runs scored: its texts, the altered spans, the runs' decisions, its standing and the experts."""
    items = []
    for case in dataset.cases:
        if case.item_id not in table.index:
            continue
        row = table.loc[case.item_id]
        item = {
            "id": case.item_id,
            "doi": case.doi,
            "sf": subfields.index(case.subfield),
            "texts": list(case.options),
            "ch": [word_changes(case.options[0], option) for option in case.options[1:]],
            "r": decisions[case.item_id],
            "s": {
                "n": int(row["n_runs"]),
                "k": int(row["n_correct"]),
                "acc": _number(row["model_accuracy"]),
                "dis": _number(row["disagreement"]),
                "mrank": None if pd.isna(row["model_rank"]) else int(row["model_rank"]),
                "flips": int(row["rule_flips"]),
            },
        }
        if row.get("experts_n", 0) > 0:
            item["x"] = {
                "n": int(row["experts_n"]),
                "acc": _number(row["experts_accuracy"]),
                "conf": _number(row["experts_confidence"]),
                "exp": _number(row["experts_expertise"]),
                "rank": int(row["expert_rank"]),
            }
        items.append(item)
    return items


def _token_data(runs: Sequence[ExplorerRun]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({run index: {item id: token evidence as the page reads it}}, the tokenisations they refer to): per version
    the index of its token spans (shared between runs of one tokenizer) and its surprisal in thousandths of a nat
    (uint16, base64), the shared blocks and the split of the surprisal difference."""
    tokenisations: dict[str, int] = {}
    tokens: dict[str, dict[str, Any]] = {}
    for index, run in enumerate(runs):
        per_item = {}
        for item_id, evidence in run.evidence.items():
            tracks = (evidence.real, evidence.altered)
            spans = [_b64(np.asarray(track.spans, dtype=int).reshape(-1)) for track in tracks]
            per_item[str(item_id)] = {
                "k": [tokenisations.setdefault(value, len(tokenisations)) for value in spans],
                "s": [_b64(np.clip(np.round(np.asarray(t.surprisal) * _MILLI), 0, 65535)) for t in tracks],
                "m": [list(block) for block in evidence.blocks],
                "d": [
                    _number(value)
                    for value in (
                        evidence.before,
                        evidence.at_edits,
                        evidence.after_edits,
                        evidence.total,
                        evidence.log_ppl_margin,
                    )
                ],
            }
        if per_item:
            tokens[str(index)] = per_item
    return tokens, list(tokenisations)


def explorer_payload(
    runs: Sequence[ExplorerRun], dataset: Dataset, trials: pd.DataFrame | None = None, title: str | None = None
) -> dict[str, Any]:
    """The explorer's data: runs, items (texts, altered spans, each run's decision, the experts, the item's
    standing), token evidence per run and item, and the tokenisations it refers to (shared between runs)."""
    results = results_table({run.name: run.records for run in runs})
    rules = _rule_results(runs)
    table = item_table(results, trials, rules)
    subfields = sorted({case.subfield for case in dataset.cases})
    items = _items(dataset, table, _decisions(runs, results, rules), subfields)
    tokens, tokenisations = _token_data(runs)
    accuracy = results.groupby("model")["correct"].mean()
    return {
        "title": title or f"BrainBench item explorer: {dataset.name}, {len(items)} items x {len(runs)} run(s)",
        "generated": f"brainbench {__version__}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "dataset": dataset.name,
        "experts": trials is not None and len(trials) > 0,
        "rules": sorted(rules),
        "subfields": subfields,
        "runs": [
            {
                "name": run.name,
                "short": short,
                "backend": run.info.backend,
                "accuracy": _number(accuracy.get(model_key(run.name))),
                "tokens": bool(run.evidence),
                "note": run.evidence_note,
                "evidence": {key: _number(value, 4) for key, value in evidence_summary(run.evidence).items()}
                if run.evidence
                else None,
            }
            for run, short in zip(runs, _short_names([run.name for run in runs]))
        ],
        "items": items,
        "tok": tokens,
        "tokenisations": tokenisations,
        "milli": _MILLI,
    }


def render_explorer(payload: Mapping[str, Any]) -> str:
    """The page: the template with its data inlined (``</`` escaped, so no text can close the script)."""
    page = resources.files("brainbench.report").joinpath("explorer.html").read_text(encoding="utf-8")
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    return page.replace("__TITLE__", html.escape(str(payload["title"]))).replace("__DATA__", data)


def write_explorer(path: Path, payload: Mapping[str, Any]) -> Path:
    if not payload["items"]:
        raise RunError("the explorer has no item to show: the runs hold no scored item")
    write_text_atomic(Path(path), render_explorer(payload))
    return Path(path)


def build_explorer(
    run_dirs: Sequence[str | Path],
    out: Path,
    *,
    data_dir: Path | None = None,
    store: str | None = None,
    title: str | None = None,
    allow_partial: bool = False,
    on_note: Callable[[str], None] = lambda note: None,
) -> dict[str, Any]:
    """``brainbench explore``: read the runs (their full-condition ones, of one dataset), the dataset, the experts'
    trials and each run's token evidence, write the explorer to ``out`` and return its data."""
    from brainbench.settings import load_settings

    check_output_path(out, "file")
    loaded = read_runs(run_dirs, "ppl", allow_partial)
    full = [run for run in loaded if run.info.condition == "full"]
    for run in loaded:
        if run.info.condition != "full":
            on_note(f"{run.run_dir}: left out of the explorer (condition {run.info.condition}; it shows full runs)")
    if not full:
        raise InputError(str(run_dirs[0]), None, "no full-condition run among the run directories")
    name = one_dataset(full)
    settings = load_settings(data_dir=data_dir)
    info = full[0].info
    dataset = load_dataset(
        name if name in DATASETS or name in GRADED_DATASETS else str(info.dataset_path),
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        texts=info.spec.texts,  # type: ignore[arg-type]
    )
    runs = [
        ExplorerRun(run.name, run.info, run.records, *load_token_evidence(run.info, dataset, store))
        for run in name_runs(full)
    ]
    payload = explorer_payload(runs, dataset, human_trials_for([name], data_dir), title)
    write_explorer(out, payload)
    return payload
