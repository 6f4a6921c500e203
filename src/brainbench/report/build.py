"""``brainbench report`` as a library call: run directories in, the report's sections (and the HTML file) out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from brainbench.analysis import condition_label, memorisation_scores, model_key, results_table
from brainbench.analysis.compare import resolve_model_set
from brainbench.analysis.graded import graded_cases, graded_table, has_graded
from brainbench.errors import InputError
from brainbench.io import check_output_path
from brainbench.report.html import Section, save_figures, write_report
from brainbench.report.sections import PERCENT_TABLES, build_sections
from brainbench.runs.collection import (
    LoadedRun,
    adapter_pairs,
    caveats,
    human_trials_for,
    name_runs,
    one_dataset,
    read_runs,
    records_by_name,
)
from brainbench.runs.memorisation import read_memorisation
from brainbench.settings import Settings, load_settings


def report_sections(
    run_dirs: Sequence[str | Path],
    *,
    data_dir: Path | None = None,
    finetuned: Sequence[str] = (),
    model_set: str | None = None,
    unseen: str | None = None,
    normalisation: str = "ppl",
    allow_partial: bool = False,
) -> list[Section]:
    """The report's sections for run directories of one dataset: the full-condition runs make the paper's figures,
    runs under other conditions Figs S3-S4. ``finetuned``: BASE=TUNED run names for Fig 5 (runs with an adapter
    pair with their base run by themselves)."""
    every = read_runs(run_dirs, normalisation, allow_partial)
    named = name_runs([run for run in every if run.info.condition == "full"])
    if not named:
        raise InputError(
            str(run_dirs[0]), None, "no full-condition run among the run directories: the report starts from one"
        )
    dataset = one_dataset(every)
    names = [run.name for run in named]
    settings = load_settings(data_dir=data_dir)
    graded_runs = {run.name: run.records for run in named if has_graded(run.records)}
    memorisation = [
        memorisation_scores(table).assign(model=run.name)
        for run in named
        if (table := read_memorisation(run.run_dir)) is not None
    ]
    sections = build_sections(
        results_table(records_by_name(named)),
        human_trials_for([dataset], data_dir, named),
        conditions=pd.concat([condition_frame(run) for run in every], ignore_index=True),
        memorisation=pd.concat(memorisation, ignore_index=True) if memorisation else None,
        publication_dates=load_publication_dates_for(dataset, settings),
        unseen=unseen,
        finetuned=finetuned_pairs(finetuned, named, names),
        model_set=resolve_model_set(model_set, names),
        graded=(graded_table(graded_runs), graded_cases(graded_runs)) if graded_runs else None,
    )
    notes = caveats(every)
    if notes:
        sections.insert(0, Section("Read with care", text="; ".join(notes) + "."))
    return sections


def condition_frame(run: LoadedRun) -> pd.DataFrame:
    frame = results_table({run.info.model: run.records})
    frame["condition"] = condition_label(run.info.condition, run.info.seed)
    return frame


def finetuned_pairs(given: Sequence[str], named: Sequence[LoadedRun], names: Sequence[str]) -> list[tuple[str, str]]:
    """The (base, tuned) pairs of Fig 5: those given as BASE=TUNED, then each adapter run with its base run."""
    pairs = [tuple(model_key(name) for name in pair.split("=", 1)) for pair in given]
    for pair in pairs:
        if len(pair) != 2 or any(name not in names for name in pair):
            raise InputError(
                "--finetuned", None, f"{'='.join(pair)!r}: expected BASE=TUNED with names among {', '.join(names)}"
            )
    checked = [(base, tuned) for base, tuned in pairs]
    return checked + adapter_pairs(named, exclude={tuned for _, tuned in checked})


def load_publication_dates_for(dataset: str, settings: Settings) -> pd.DataFrame | None:
    """The publication dates of the paper's abstracts (Fig S8), for brainbench-human only."""
    from brainbench.data import load_publication_dates

    if dataset != "brainbench-human":
        return None
    return load_publication_dates(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)


@dataclass(frozen=True)
class Report:
    """A report written: its title and sections (``report_json`` turns them into every number shown) and the figure
    files saved."""

    title: str
    sections: list[Section]
    figure_files: list[Path]


EXPLORER_TEXT = (
    "Every item on its own page: the versions with the altered words marked, each run's choice and confidence, the "
    "experts on it and, for runs that kept per-token scores, where in the text a model found one version more "
    "surprising than the other."
)


def build_report(
    run_dirs: Sequence[str | Path],
    out: Path,
    *,
    figures: Path | None = None,
    explorer: Path | None = None,
    data_dir: Path | None = None,
    allow_partial: bool = False,
    **options: object,
) -> Report:
    """Write the HTML report of ``run_dirs`` to ``out`` (options as ``report_sections``); with ``figures``, also
    every figure as PNG and SVG there; with ``explorer``, the item explorer there, linked from the report."""
    from brainbench.report.explore import build_explorer

    check_output_path(out, "file")
    if figures is not None:
        check_output_path(figures, "folder", "--figures")
    if explorer is not None:
        check_output_path(explorer, "file", "--explorer")
    sections = report_sections(run_dirs, data_dir=data_dir, allow_partial=allow_partial, **options)  # type: ignore[arg-type]
    if explorer is not None:
        build_explorer(run_dirs, explorer, data_dir=data_dir, allow_partial=allow_partial)
        link = os.path.relpath(Path(explorer).absolute(), Path(out).absolute().parent)
        sections.insert(0, Section("Item explorer", text=EXPLORER_TEXT, links={f"Open {link}": link}))
    title = f"BrainBench report: {len({str(path) for path in run_dirs})} run(s)"
    write_report(out, title, sections, PERCENT_TABLES)
    return Report(title, sections, save_figures(sections, figures) if figures is not None else [])
