"""Sweeps: many models (with their templates and adapters) x datasets in one go, into one results store.

A sweep file (YAML)::

    store: runs/brainbench.sqlite     # optional; default the user's results store (as every command)
    out: runs                         # where the run directories go
    seed: 42
    datasets: [brainbench-human, brainbench-gpt4]
    conditions: [full, no-context, swapped-seed42, swapped-seed1234]   # optional; default [full]
    limit: 20                         # optional: the first 20 items of each dataset (or items: 0-9,50)
    models:
      - {}                                          # the embedded model, transformers backend
      - {backend: llama-cpp}                        # the embedded GGUF through llama.cpp
      - {model: gpt2}                               # the paper's template for gpt2 (found by id)
      - {model: my-org/my-model, template: none}    # the bare abstract
      - {model: mistralai/Mistral-7B-v0.1, adapter: path/to/lora, dtype: bfloat16}
      - {backend: openai-completions, base_url: "http://127.0.0.1:8000/v1", model: meta-llama/Llama-2-70b-hf}
      - {protocol: choice, backend: openai-chat, base_url: "http://127.0.0.1:8000/v1"}   # asks the experts' question

Each model entry takes the options of its backend (``brainbench.scoring.registry``)
plus ``protocol`` (perplexity or choice), ``template`` / ``template_file`` and ``name`` (the run directory's
stem). Every run is planned
(and every option checked) before any model loads. Texts the store already holds are not scored
again, so re-running a sweep only does what is missing; a model whose runs are all complete in the
store is not loaded at all.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from brainbench.errors import BrainbenchError, InputError
from brainbench.io import read_text
from brainbench.runs.config import RunConfig
from brainbench.runs.execute import execute_run, export_run
from brainbench.runs.plan import RunPlan, default_store, parse_items, plan_run
from brainbench.runs.store import ResultsStore
from brainbench.scoring import backend_options

logger = logging.getLogger(__name__)

_SWEEP_KEYS = {"store", "out", "seed", "datasets", "models", "texts", "conditions", "limit", "items"}
_CONDITION = re.compile(r"(full|no-context|swapped)(?:-seed(\d+))?")
_ENTRY_KEYS = {"backend", "protocol", "template", "template_file", "name"}


@dataclass(frozen=True)
class SweepModel:
    backend: str
    options: dict[str, Any]  # for the backend
    template: str | None = None
    template_file: Path | None = None
    name: str | None = None
    protocol: str = "perplexity"

    @property
    def label(self) -> str:
        return self.name or str(self.options.get("model") or f"embedded ({self.backend})")


@dataclass(frozen=True)
class Sweep:
    path: Path
    datasets: list[str]
    models: list[SweepModel]
    out: Path = Path("runs")
    store: str | None = None
    seed: int = 42
    texts: str = "released"
    conditions: tuple[tuple[str, int], ...] = (("full", 42),)  # (condition, seed)
    limit: int | None = None
    items: str | None = None

    @property
    def limited(self) -> bool:
        return self.limit is not None or self.items is not None


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file; every problem names the file and the entry."""
    path = Path(path)
    try:
        spec = yaml.safe_load(read_text(path, "sweep file"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(
            path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(error, 'problem', error)}"
        ) from error
    if not isinstance(spec, dict):
        raise InputError(path, None, "expected a mapping with 'datasets' and 'models'")
    unknown = sorted(set(spec) - _SWEEP_KEYS)
    if unknown:
        raise InputError(path, None, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_SWEEP_KEYS))}")
    datasets = _names(path, spec, "datasets", ["brainbench-human"])
    entries = spec.get("models")
    if not isinstance(entries, list) or not entries:
        raise InputError(path, None, "'models' must be a non-empty list of model entries")
    models = []
    for index, entry in enumerate(entries):
        entry = entry or {}
        if not isinstance(entry, dict):
            raise InputError(path, None, f"models[{index}]: expected a mapping, got {entry!r}")
        backend = entry.get("backend", "transformers")
        options = {key: value for key, value in entry.items() if key not in _ENTRY_KEYS}
        try:
            options = backend_options(backend, **options)
        except BrainbenchError as error:
            raise InputError(path, None, f"models[{index}]: {error}") from error
        template_file = entry.get("template_file")
        models.append(
            SweepModel(
                backend,
                options,
                entry.get("template"),
                Path(template_file) if template_file else None,
                entry.get("name"),
                str(entry.get("protocol", "perplexity")),
            )
        )
    seed = spec.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise InputError(path, None, f"seed: {seed!r} is not a whole number from 0 to 2**32 - 1")
    conditions = []
    for name in _names(path, spec, "conditions", ["full"]):
        match = _CONDITION.fullmatch(str(name))
        if not match or (match.group(2) and match.group(1) != "swapped"):
            raise InputError(path, None, f"conditions: {name!r} is not full, no-context, swapped or swapped-seed<N>")
        conditions.append((match.group(1), int(match.group(2) or seed)))
    limit, items = spec.get("limit"), spec.get("items")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InputError(path, None, f"limit: {limit!r} is not a whole number of 1 or more")
    if items is not None:
        items = str(items)
        try:
            parse_items(items)
        except InputError as error:
            raise InputError(path, None, f"items: {error.reason}") from error
    return Sweep(
        path,
        [str(d) for d in datasets],
        models,
        out=Path(spec.get("out", "runs")),
        store=spec.get("store"),
        seed=seed,
        texts=str(spec.get("texts", "released")),
        conditions=tuple(conditions),
        limit=limit,
        items=items,
    )


def _names(path: Path, spec: dict[str, Any], key: str, default: list[str]) -> list[str]:
    """A list of names in a sweep file (one name alone is a list of one); left out, ``default``. Given empty, an
    error: an empty list asks for nothing, and running the default instead would run what was not asked for."""
    if key not in spec:
        return default
    names = [spec[key]] if isinstance(spec[key], str | int) else spec[key] or []
    if not isinstance(names, list) or not all(isinstance(name, str | int) for name in names):
        raise InputError(path, None, f"{key}: expected a list of names, got {spec[key]!r}")
    if not names:
        raise InputError(path, None, f"{key}: empty; name at least one (or leave {key} out for {', '.join(default)})")
    return [str(name) for name in names]


def _row(model: SweepModel, plan: RunPlan, dataset: str, summary: dict[str, Any], sweep: Sweep) -> dict[str, Any]:
    return {
        "model": model.label,
        "backend": model.backend,
        "dataset": dataset,
        "condition": plan.spec.condition,
        "template": plan.spec.template,
        "limited": sweep.limited,
        "n_requested": summary["n_requested"],
        "n_items": summary["n_items"],
        "n_scored": summary["n_scored"],
        "n_errors": summary["n_errors"],
        "accuracy": summary["accuracy"],
        "ci95": summary["accuracy_ci95"],
        "chance": summary["chance"],
        "run_key": plan.run_key,
        "out": str(plan.out_dir),
    }


def _failed(model: SweepModel, dataset: str, condition: str, error: Exception) -> dict[str, Any]:
    message = str(error) if isinstance(error, BrainbenchError) else f"{type(error).__name__}: {error}"
    return {
        "model": model.label,
        "backend": model.backend,
        "dataset": dataset,
        "condition": condition,
        "error": " ".join(message.split()),
    }


def run_sweep(
    sweep: Sweep,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    store: str | None = None,
    on_start: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every model on every dataset and condition; return one row per run. Every run is planned first;
    a model whose runs the store already holds complete is not even loaded: its run directories are
    exported from the store. A model that fails to plan, load or run is reported in its rows
    (``error``) and the sweep goes on."""
    location = store or sweep.store or default_store()
    results_store = ResultsStore(location)
    rows: list[dict[str, Any]] = []
    for model in sweep.models:
        config = RunConfig(
            backend=model.backend,
            protocol=model.protocol,
            options=model.options,
            data_dir=data_dir,
            cache_dir=cache_dir,
            offline=offline,
            texts=sweep.texts,
            template=model.template,
            template_file=model.template_file,
            items=sweep.items,
            limit=sweep.limit,
            out_root=sweep.out,
            name=model.name,
            store=location,
        )
        plans: list[tuple[str, RunPlan]] = []
        for dataset, (condition, seed) in itertools.product(sweep.datasets, sweep.conditions):
            try:
                plans.append((dataset, plan_run(replace(config, dataset=dataset, condition=condition, seed=seed))))
            except BrainbenchError as error:
                rows.append(_failed(model, dataset, condition, error))
        if not plans:
            continue
        if all(results_store.is_complete(plan.run_key, [case.item_id for case in plan.cases]) for _, plan in plans):
            for dataset, plan in plans:
                summary = export_run(
                    results_store, plan.run_key, plan.out_dir, item_ids=[case.item_id for case in plan.cases]
                )
                rows.append(_row(model, plan, dataset, summary, sweep))
            continue
        try:
            for _, plan in plans:
                plan.claim()
            scorer = plans[0][1].load_model()
        except Exception as error:  # whatever stops one model loading, the sweep goes on without it
            if not isinstance(error, BrainbenchError):
                logger.debug("loading %s failed", model.label, exc_info=True)
            for _, plan in plans:
                plan.release()
            rows += [_failed(model, dataset, plan.spec.condition, error) for dataset, plan in plans]
            continue
        for dataset, plan in plans:
            if on_start:
                on_start(
                    model.label, dataset if plan.spec.condition == "full" else f"{dataset} ({plan.spec.condition})"
                )
            try:
                summary = execute_run(plan, scorer, on_progress=on_progress)
            except BrainbenchError as error:
                rows.append(_failed(model, dataset, plan.spec.condition, error))
                continue
            rows.append(_row(model, plan, dataset, summary, sweep))
        del scorer
    return rows


__all__ = ["Sweep", "SweepModel", "load_sweep", "run_sweep"]
