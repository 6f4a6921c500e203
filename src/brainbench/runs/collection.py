"""Several run directories read together, as ``compare``, ``report`` and ``team`` read them: the partial-run
policy, one name per run, the pairs of a base model and its LoRA-tuned self, and the expert trials of their dataset.

    from brainbench.runs.collection import read_runs, name_runs
    runs = name_runs(read_runs(["runs/a", "runs/b"], allow_partial=True))
    {run.name: run.records for run in runs}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from brainbench.errors import InputError, RunError
from brainbench.runs.info import RunInfo
from brainbench.runs.records import with_decision
from brainbench.runs.rundir import load_run
from brainbench.scoring.rules import check_normalisation


@dataclass(frozen=True)
class LoadedRun:
    """A run directory read: its run.json, its records (decisions under one rule), and the name tables give it."""

    run_dir: Path
    info: RunInfo
    records: list[dict[str, Any]]
    name: str = ""  # set by ``name_runs``

    @property
    def partial(self) -> bool:
        return len(self.records) < self.info.n_requested


def read_runs(
    run_dirs: Iterable[str | Path], normalisation: str = "ppl", allow_partial: bool = False
) -> list[LoadedRun]:
    """Each run directory's run.json and records, the records' decisions derived under ``normalisation``.
    A partial run (fewer records than the items it was asked for) is refused unless ``allow_partial``."""
    check_normalisation(normalisation)
    loaded = []
    for run_dir in map(Path, run_dirs):
        info, records = load_run(run_dir)
        if len(records) < info.n_requested and not allow_partial:
            raise RunError(
                f"{run_dir}: partial, {len(records)} of {info.n_requested} items (finish it with the same "
                "`brainbench run` command, or pass --allow-partial to use it as it is)"
            )
        loaded.append(LoadedRun(run_dir, info, [with_decision(record, normalisation) for record in records]))
    return loaded


def name_runs(runs: Sequence[LoadedRun]) -> list[LoadedRun]:
    """The runs with their names (``model_key``: org/name and org--name are one model): a model name shared by
    several runs gets the run directory's name added, so that no run hides another."""
    names = [model_key(run.info.model) for run in runs]
    named, taken = [], set()
    for run, name in zip(runs, names, strict=True):
        key = name if names.count(name) == 1 else f"{name} ({run.run_dir.name})"
        suffix = 2
        while key in taken:
            key, suffix = f"{key} #{suffix}", suffix + 1
        taken.add(key)
        named.append(replace(run, name=key))
    return named


def model_key(name: str) -> str:
    """One spelling per model: a Hugging Face id ``org/name`` becomes ``org--name``, the spelling of the
    paper's result folders (and of run directories), so that both name the same model."""
    return name.replace("/", "--")


def one_dataset(runs: Sequence[LoadedRun]) -> str:
    """The dataset all the runs are of; runs of several cannot be averaged or tested together."""
    datasets = sorted({run.info.dataset for run in runs})
    if len(datasets) != 1:
        listed = "; ".join(f"{run.run_dir} is of {run.info.dataset}" for run in runs)
        raise InputError(
            runs[0].run_dir if runs else "run directories",
            None,
            f"runs of {len(datasets)} datasets ({listed}): their accuracies are not comparable, so give the runs of "
            "one dataset at a time",
        )
    return datasets[0]


def repeated_models(runs: Sequence[LoadedRun]) -> dict[str, list[str]]:
    """{model: its runs' names} for each model with several runs (by backends, imports, templates...): a mean over
    models counts such a model once per run."""
    by_model: dict[str, list[str]] = {}
    for run in runs:
        by_model.setdefault(model_key(run.info.model), []).append(run.name)
    return {model: names for model, names in by_model.items() if len(names) > 1}


def caveats(runs: Sequence[LoadedRun]) -> list[str]:
    """What a reader of a comparison of ``runs`` must know: the partial runs used as they are, and the models
    counted more than once."""
    notes = [
        f"{run.name} is partial ({len(run.records)} of {run.info.n_requested} items), used as it is"
        for run in runs
        if run.partial
    ]
    notes += [
        f"{model} has {len(names)} runs ({', '.join(names)}): a mean over models counts it {len(names)} times"
        for model, names in repeated_models(runs).items()
    ]
    return notes


def records_by_name(runs: Sequence[LoadedRun]) -> dict[str, list[dict[str, Any]]]:
    return {run.name: run.records for run in runs}


def adapter_pairs(runs: Sequence[LoadedRun], exclude: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(base, tuned) run names: each run with a LoRA adapter and a run of the same base model without one."""
    excluded = set(exclude)

    def base_model(run: LoadedRun) -> tuple[Any, Any]:
        return run.info.scorer.get("backend"), run.info.scorer.get("model")

    base_of = {base_model(run): run.name for run in runs if not run.info.scorer.get("adapter")}
    return [
        (base_of[base_model(run)], run.name)
        for run in runs
        if run.info.scorer.get("adapter") and base_model(run) in base_of and run.name not in excluded
    ]


def human_trials_for(
    datasets: Iterable[str], data_dir: Path | None = None, runs: Sequence[LoadedRun] | None = None
) -> pd.DataFrame | None:
    """The expert trials on the runs' dataset (human- or GPT-4-made items), if it is a published one; with ``runs``,
    only the trials on the items those runs hold (a 16-item run is compared with the experts on its 16 items)."""
    from brainbench.data import DATASETS, load_human_study
    from brainbench.settings import load_settings

    sources = {DATASETS[name].source for name in datasets if name in DATASETS}
    if len(sources) != 1:
        return None
    settings = load_settings(data_dir=data_dir)
    trials = load_human_study(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
    trials = trials[trials["source"] == sources.pop()]
    if runs is not None:
        trials = trials[trials["doi"].isin({record["doi"] for run in runs for record in run.records})]
    return trials
