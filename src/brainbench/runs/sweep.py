"""Sweeps: many models (with their templates and adapters) x datasets in one go, into one results store.

A sweep file (YAML)::

    store: runs/brainbench.sqlite     # optional; default brainbench.sqlite in `out`
    out: runs                         # where the run directories go
    seed: 42
    datasets: [brainbench-human, brainbench-gpt4]
    conditions: [full, no-context, swapped-seed42, swapped-seed1234]   # optional; default [full]
    models:
      - {}                                          # the embedded model, transformers backend
      - {backend: llama-cpp}                        # the embedded GGUF through llama.cpp
      - {model: gpt2}                               # the paper's template for gpt2 (found by id)
      - {model: my-org/my-model, template: none}    # the bare abstract
      - {model: mistralai/Mistral-7B-v0.1, adapter: path/to/lora, dtype: bfloat16}
      - {backend: openai-completions, base_url: "http://127.0.0.1:8000/v1", model: meta-llama/Llama-2-70b-hf}

Each model entry takes the options of its backend (``brainbench.scoring.BACKEND_OPTIONS``)
plus ``template`` / ``template_file`` and ``name`` (the run directory's stem). Texts the store
already holds are not scored again, so re-running a sweep only does what is missing; a model
whose runs are all complete in the store is not loaded at all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from brainbench.data import load_dataset
from brainbench.data.conditions import apply_condition
from brainbench.errors import BrainbenchError, InputError
from brainbench.runs.execute import export_run, run_benchmark, run_dir_name
from brainbench.runs.store import STORE_FILE, ResultsStore, json_key, text_key
from brainbench.scoring import backend_options, load_scorer, resolve_template

_SWEEP_KEYS = {"store", "out", "seed", "datasets", "models", "texts", "conditions"}
_CONDITION = re.compile(r"(full|no-context|swapped)(?:-seed(\d+))?")
_ENTRY_KEYS = {"backend", "template", "template_file", "name"}


@dataclass(frozen=True)
class SweepModel:
    backend: str
    options: dict[str, Any]  # for the backend
    template: str | None = None
    template_file: Path | None = None
    name: str | None = None

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


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file; every problem names the file and the entry."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(path, None, f"cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(error, 'problem', error)}") from error
    if not isinstance(spec, dict):
        raise InputError(path, None, "expected a mapping with 'datasets' and 'models'")
    unknown = sorted(set(spec) - _SWEEP_KEYS)
    if unknown:
        raise InputError(path, None, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_SWEEP_KEYS))}")
    datasets = spec.get("datasets") or ["brainbench-human"]
    if isinstance(datasets, str):
        datasets = [datasets]
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
        models.append(SweepModel(backend, options, entry.get("template"), Path(template_file) if template_file else None, entry.get("name")))
    out = Path(spec.get("out", "runs"))
    seed = int(spec.get("seed", 42))
    conditions = []
    for name in spec.get("conditions") or ["full"]:
        match = _CONDITION.fullmatch(str(name))
        if not match or (match.group(2) and match.group(1) != "swapped"):
            raise InputError(path, None, f"conditions: {name!r} is not full, no-context, swapped or swapped-seed<N>")
        conditions.append((match.group(1), int(match.group(2) or seed)))
    return Sweep(path, [str(d) for d in datasets], models, out=out, store=spec.get("store"), seed=seed,
                 texts=str(spec.get("texts", "released")), conditions=tuple(conditions))


def _entry_key(model: SweepModel, dataset_sha256: str, texts: str, condition: str, seed: int) -> str:
    """What makes a sweep entry the same entry again: its options (not the API key), template, dataset, condition, seed."""
    template_file = text_key(model.template_file.read_text(encoding="utf-8")) if model.template_file else None
    options = {key: value for key, value in model.options.items() if key != "api_key"}
    return json_key({"backend": model.backend, "options": options, "template": model.template, "template_file": template_file,
                     "name": model.name, "dataset_sha256": dataset_sha256, "texts": texts, "condition": condition, "seed": seed})


def _row(model: SweepModel, dataset: str, condition: str, template: str, summary: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    return {"model": model.label, "backend": model.backend, "dataset": dataset, "condition": condition, "template": template,
            "n_items": summary["n_items"], "n_scored": summary["n_scored"], "n_errors": summary["n_errors"], "accuracy": summary["accuracy"],
            "ci95": summary["accuracy_ci95"], "run_key": summary["run"]["run_key"], "out": str(out_dir)}


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
    """Run every model on every dataset and condition; return one row per run. A model whose runs the
    store already holds complete (same options, template, dataset, condition and seed) is not even
    loaded: its run directories are exported from the store. A model that fails to load or run is
    reported in its rows (``error``) and the sweep goes on."""
    results_store = ResultsStore(store or sweep.store or sweep.out / STORE_FILE)
    datasets = {name: load_dataset(name, data_dir=data_dir, cache_dir=cache_dir, offline=offline, texts=sweep.texts) for name in sweep.datasets}  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    for model in sweep.models:
        plan = [(name, full, condition, seed, _entry_key(model, full.sha256, sweep.texts, condition, seed))
                for (name, full), (condition, seed) in itertools.product(datasets.items(), sweep.conditions)]
        done = {key: results_store.entry_run(key) for *_, key in plan}
        if all(run_key is not None and results_store.is_complete(run_key) for run_key in done.values()):
            for name, full, condition, seed, key in plan:
                info = results_store.run_info(done[key])  # type: ignore[arg-type]
                stem = run_dir_name(model.name or info["model"], full.name, "transformers" if model.name else model.backend, condition, seed)
                summary = export_run(results_store, done[key], sweep.out / stem)  # type: ignore[arg-type]
                rows.append(_row(model, name, condition, info["template"], summary, sweep.out / stem))
            continue
        try:
            scorer = load_scorer(model.backend, **model.options)
        except BrainbenchError as error:
            rows += [{"model": model.label, "backend": model.backend, "dataset": name, "condition": condition, "error": str(error)}
                     for name, _, condition, _, _ in plan]
            continue
        template = resolve_template(model.template, model.template_file, model.options.get("model"), adapter=model.options.get("adapter"),
                                    data_dir=data_dir, cache_dir=cache_dir, offline=offline)
        for name, full, condition, seed, key in plan:
            stem = run_dir_name(model.name, full.name, "transformers", condition, seed) if model.name else run_dir_name(scorer.name, full.name, model.backend, condition, seed)
            out_dir = sweep.out / stem
            if on_start:
                on_start(model.label, name if condition == "full" else f"{name} ({condition})")
            try:
                dataset, labels = apply_condition(full, condition, seed)
                summary = run_benchmark(dataset, scorer, out_dir, template=template, seed=seed, store=results_store,
                                        on_progress=on_progress, condition=condition, labels=labels)
            except BrainbenchError as error:
                rows.append({"model": model.label, "backend": model.backend, "dataset": name, "condition": condition, "error": str(error)})
                continue
            results_store.remember_entry(key, summary["run"]["run_key"])
            rows.append(_row(model, name, condition, template.name, summary, out_dir))
        del scorer
    return rows


__all__ = ["Sweep", "SweepModel", "load_sweep", "run_sweep"]
