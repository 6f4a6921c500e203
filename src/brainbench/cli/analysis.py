"""``brainbench humans`` and ``brainbench compare``: the paper's tables for the experts and for runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.table import Table

from brainbench.analysis import (
    PAPER_MODEL_SET,
    accuracy_by,
    accuracy_by_experience,
    comparison_tables,
    condition_label,
    describe_agreement,
    describe_mean,
    describe_models_vs_humans,
    expertise_calibration,
    human_summary,
    memorisation_scores,
    model_key,
    participant_table,
    results_table,
    trials_of,
)
from brainbench.analysis.graded import graded_cases, graded_table, has_graded
from brainbench.cli.app import allow_partial_option, app, handle_errors, rule_option, stderr, stdout
from brainbench.data import DATASETS, load_human_study, load_publication_dates
from brainbench.data.participants import load_human_trials
from brainbench.errors import InputError, RunError
from brainbench.runs import load_run
from brainbench.runs.memorisation import read_memorisation
from brainbench.runs.records import with_decision
from brainbench.scoring.rules import check_normalisation
from brainbench.settings import load_settings


def print_frame(frame: pd.DataFrame, title: str, percent: tuple[str, ...] = ()) -> None:
    """A DataFrame as a rich table; columns in ``percent`` (or all floats in [0, 1] if "*") shown as %."""
    table = Table(title=title)
    table.add_column(frame.index.name or "", justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for index, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            if isinstance(value, float) and pd.isna(value):
                cells.append("n/a")
            elif isinstance(value, float) and (column in percent or "*" in percent):
                cells.append(f"{100 * value:.1f}%")
            elif isinstance(value, float):
                cells.append(f"{value:.4g}")
            else:
                cells.append(str(value))
        table.add_row(str(index), *cells)
    stdout.print(table)


LoadedRun = tuple[Path, dict[str, Any], list[dict[str, Any]]]  # run_dir, run.json, records


def read_runs(run_dirs: list[Path], normalisation: str = "ppl", allow_partial: bool = False) -> list[LoadedRun]:
    """(run_dir, run.json, records) per run directory, the records' decisions derived under ``normalisation``.
    A partial run (fewer records than the items it was asked for) is refused unless ``allow_partial``."""
    check_normalisation(normalisation)
    loaded = []
    for run_dir in run_dirs:
        info, records = load_run(run_dir)
        requested = info.get("n_requested", len(records))
        if len(records) < requested and not allow_partial:
            raise RunError(
                f"{run_dir}: partial, {len(records)} of {requested} items (finish it with the same `brainbench run` "
                "command, or pass --allow-partial to use it as it is)"
            )
        loaded.append((Path(run_dir), info, [with_decision(record, normalisation) for record in records]))
    return loaded


def named_runs(
    run_dirs: list[Path], normalisation: str = "ppl", allow_partial: bool = False
) -> list[tuple[str, Path, dict[str, Any], list[dict[str, Any]]]]:
    """(name, run_dir, run.json, records) per run directory (see ``read_runs`` and ``name_runs``)."""
    return name_runs(read_runs(run_dirs, normalisation, allow_partial))


def name_runs(loaded: list[LoadedRun]) -> list[tuple[str, Path, dict[str, Any], list[dict[str, Any]]]]:
    """Loaded runs with their names (``model_key``: org/name and org--name are one model): a model
    name shared by several runs gets the run directory's name added, so that no run hides another."""
    names = [model_key(info["model"]) for _, info, _ in loaded]
    named, taken = [], set()
    for (run_dir, info, records), name in zip(loaded, names):
        key = name if names.count(name) == 1 else f"{name} ({run_dir.name})"
        suffix = 2
        while key in taken:
            key, suffix = f"{key} #{suffix}", suffix + 1
        taken.add(key)
        named.append((key, run_dir, info, records))
    return named


def load_runs(
    run_dirs: list[Path], normalisation: str = "ppl", allow_partial: bool = False
) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """({name: records}, datasets) for the run directories (see ``named_runs``)."""
    named = named_runs(run_dirs, normalisation, allow_partial)
    return {name: records for name, _, _, records in named}, {info["dataset"] for _, _, info, _ in named}


def adapter_pairs(
    named: list[tuple[str, Path, dict[str, Any], list[dict[str, Any]]]], exclude: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """(base, tuned) run names: each run with a LoRA adapter and a run of the same base model without one."""
    base_of = {
        (info["scorer"].get("backend"), info["scorer"].get("model")): name
        for name, _, info, _ in named
        if not info["scorer"].get("adapter")
    }
    pairs = []
    for name, _, info, _ in named:
        base = base_of.get((info["scorer"].get("backend"), info["scorer"].get("model")))
        if info["scorer"].get("adapter") and base is not None and name not in exclude:
            pairs.append((base, name))
    return pairs


def human_trials_for(datasets: set[str], data_dir: Path | None) -> pd.DataFrame | None:
    """The expert trials matching the runs' dataset (human- or GPT-4-made items), if it is a published one."""
    sources = {DATASETS[name].source for name in datasets if name in DATASETS}
    if len(sources) != 1:
        return None
    settings = load_settings(data_dir=data_dir)
    trials = load_human_study(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
    return trials_of(trials, sources.pop())


def resolve_model_set(model_set: str | None, names: list[str]) -> list[str] | None:
    """--model-set: None (the default set), or 'paper' when every one of the paper's 15 models has a run."""
    if model_set is None:
        return None
    if model_set != "paper":
        raise InputError("--model-set", None, f"{model_set!r}: the known set is 'paper'")
    missing = [name for name in PAPER_MODEL_SET if name not in names]
    if missing:
        raise InputError(
            "--model-set", None, f"no run for {len(missing)} of the paper's 15 models: {', '.join(missing)}"
        )
    return list(PAPER_MODEL_SET)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="index", double_precision=15))
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


@app.command("humans")
def humans_command(
    source: str = typer.Option(
        "human", "--source", help="human: trials on expert-made items; gpt4: on GPT-4-made items."
    ),
    top: float = typer.Option(0.2, "--top", help="Fraction of most expert trials per abstract (the paper's 0.2)."),
    ties: str = typer.Option(
        "first",
        "--ties",
        help="Expertise ties at the cut-off: first (the paper's: file order), last, or all (keep every tied trial).",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Local mirror of the study's files."),
    participants: Path | None = typer.Option(
        None,
        "--participants",
        help="Your own study's participant_data.csv (from `brainbench study`'s export) instead of the paper's.",
    ),
    abstract_ids: Path | None = typer.Option(
        None, "--abstract-ids", help="With --participants: its abstract_id_doi.csv."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Human experts' accuracy: overall, top-20% expertise, by subfield, researcher type and experience."""
    with handle_errors():
        settings = load_settings(data_dir=data_dir)
        if ties not in ("first", "last", "all"):
            raise InputError("--ties", None, f"{ties!r}: choose first, last or all")
        if (participants is None) != (abstract_ids is None):
            raise InputError(
                "--participants", None, "give both --participants and --abstract-ids (the study exports both)"
            )
        if participants is not None and abstract_ids is not None:
            study = load_human_trials(participants, abstract_ids)
        else:
            study = load_human_study(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
        trials = trials_of(study, source)
        tables = {
            "participants": participant_table(study),
            "overall": human_summary(trials, top, ties),  # type: ignore[arg-type]
            "by_subfield": accuracy_by(trials, "subfield"),
            "by_position": accuracy_by(trials, "position"),
            "by_experience": accuracy_by_experience(trials),
            "by_expertise": expertise_calibration(trials),
        }
    if as_json:
        stdout.print_json(json.dumps({k: _jsonable(v) for k, v in tables.items()}))
        return
    columns = ["n", "n_correct", "accuracy", "ci95_low", "ci95_high"]
    print_frame(tables["participants"], "Participants (all their trials)", percent=("share",))
    stdout.print(
        f"{trials['participant_id'].nunique()} experts, {len(trials)} trials on {source}-made items", highlight=False
    )
    for key, title in (
        ("overall", "Human experts"),
        ("by_subfield", "By subfield"),
        ("by_position", "By researcher type"),
        ("by_experience", "By years of experience"),
    ):
        print_frame(tables[key][columns], title, percent=("accuracy", "ci95_low", "ci95_high"))
    by_expertise = tables["by_expertise"]
    print_frame(
        by_expertise,
        "By self-rated expertise (4 equal-count bins of ranked expertise, as the paper)",
        percent=tuple(column for column in by_expertise.columns if column.startswith("accuracy")),
    )


@app.command("compare")
def compare_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (from `brainbench run` or `import-published`)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Local mirror of the study's files (for the human experts)."
    ),
    model_set: str | None = typer.Option(
        None,
        "--model-set",
        help="'paper': the mean and the tests over the paper's 15 models (the default whenever all 15 have runs).",
    ),
    normalisation: str = rule_option(),
    allow_partial: bool = allow_partial_option(),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Accuracy of several runs side by side with the human experts; mean, models vs experts, subfields,
    agreement, Table S3, chat vs base and size; for two runs also McNemar's test and a bootstrap CI of
    their difference."""
    with handle_errors():
        runs, datasets = load_runs(run_dirs, normalisation, allow_partial)
        chosen = resolve_model_set(model_set, list(runs))
        tables = comparison_tables(results_table(runs), human_trials_for(datasets, data_dir), chosen)
    if as_json:
        stdout.print_json(json.dumps(_jsonable(tables), default=float))
        return
    percent = ("accuracy", "ci95_low", "ci95_high")
    print_frame(
        tables["accuracy"][["n", "n_correct", "accuracy", "ci95_low", "ci95_high", "chance"]],
        "Accuracy",
        percent=(*percent, "chance"),
    )
    stdout.print(describe_mean(tables), highlight=False)
    if "paired" in tables:
        paired = tables["paired"]
        stdout.print(
            f"{paired['model_a']} - {paired['model_b']}: {100 * paired['difference']:+.1f} points "
            f"(bootstrap 95% CI {100 * paired['difference_ci95_low']:+.1f} to "
            f"{100 * paired['difference_ci95_high']:+.1f}), "
            f"McNemar exact p = {paired['mcnemar_p']:.3g} ({paired['only_a_correct']} vs {paired['only_b_correct']} "
            "discordant items)",
            highlight=False,
        )
    if "humans" in tables:
        print_frame(
            tables["humans"][["n", "n_correct", "accuracy", "ci95_low", "ci95_high"]], "Human experts", percent=percent
        )
    if "models_vs_humans" in tables:
        stdout.print(describe_models_vs_humans(tables["models_vs_humans"]), highlight=False)
    print_frame(tables["subfields"], "Accuracy by subfield", percent=("*",))
    stdout.print(describe_agreement(tables["agreement"]), highlight=False)
    print_frame(
        tables["table_s3"],
        "Table S3: logistic regression of correct on confidence (one seeded stream, the paper's order)",
    )
    if tables["chat_vs_base"]:
        print_frame(
            tables["chat_vs_base"]["pairs"][
                [
                    "base",
                    "accuracy_base",
                    "accuracy_chat",
                    "difference",
                    "difference_ci95_low",
                    "difference_ci95_high",
                    "mcnemar_p",
                ]
            ],
            "Chat/instruct vs base model",
            percent=("accuracy_base", "accuracy_chat", "difference", "difference_ci95_low", "difference_ci95_high"),
        )
    if tables["accuracy_by_size"]:
        print_frame(
            tables["accuracy_by_size"]["families"],
            "Accuracy and size within a family",
            percent=("slope_per_tenfold", "difference", "difference_ci95_low", "difference_ci95_high"),
        )


@app.command("report")
def report_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (from `brainbench run` or `import-published`)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    figures: Path | None = typer.Option(None, "--figures", help="Also save every figure as PNG and SVG here."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Local mirror of the study's files (for the human experts)."
    ),
    finetuned: list[str] = typer.Option(
        [],
        "--finetuned",
        help="BASE=TUNED run names (as the report shows them) for Fig 5; runs with an adapter pair with their base run "
        "by themselves. Repeatable.",
    ),
    model_set: str | None = typer.Option(
        None,
        "--model-set",
        help="'paper': the headline mean and tests over the paper's 15 models (the default whenever all 15 have runs).",
    ),
    unseen: str | None = typer.Option(
        None,
        "--unseen",
        help="Memorisation verdicts against the reference corpus with this label (e.g. after-cutoff) instead of the "
        "altered versions.",
    ),
    normalisation: str = rule_option(),
    allow_partial: bool = allow_partial_option(),
    as_json: bool = typer.Option(
        False, "--json", help="Also print every number the report shows, unrounded, as JSON on stdout."
    ),
    explorer: Path | None = typer.Option(
        None, "--explorer", help="Also write the item explorer (brainbench explore) here, linked from the report."
    ),
) -> None:
    """One self-contained HTML report: the paper's Fig 3A-C, Fig 4, Fig S6 and their tables; with runs under
    --condition no-context / swapped, Figs S3-S4; with `run --memorisation`, Fig S7; for brainbench-human, Fig S8."""
    from brainbench.report import PERCENT_TABLES, Section, build_sections, report_json, save_figures, write_report

    with handle_errors():
        every = read_runs(run_dirs, normalisation, allow_partial)
        named = name_runs([run for run in every if (run[1].get("condition") or "full") == "full"])
        if not named:
            raise InputError(
                run_dirs[0], None, "no full-condition run among the run directories: the report starts from one"
            )
        datasets = {info["dataset"] for _, _, info, _ in named}
        results = results_table({name: records for name, _, _, records in named})
        by_condition = []
        for _, info, records in every:
            frame = results_table({info["model"]: records})
            frame["condition"] = condition_label(info)
            by_condition.append(frame)
        pairs = [tuple(model_key(name) for name in pair.split("=", 1)) for pair in finetuned]
        names = [name for name, _, _, _ in named]
        chosen = resolve_model_set(model_set, names)
        for pair in pairs:
            if len(pair) != 2 or any(name not in names for name in pair):
                raise InputError(
                    "--finetuned", None, f"{'='.join(pair)!r}: expected BASE=TUNED with names among {', '.join(names)}"
                )
        pairs += adapter_pairs(named, exclude={after for _, after in pairs})
        memorisation = [
            memorisation_scores(table).assign(model=name)
            for name, run_dir, _, _ in named
            if (table := read_memorisation(run_dir)) is not None
        ]
        settings = load_settings(data_dir=data_dir)
        dates = (
            load_publication_dates(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
            if datasets == {"brainbench-human"}
            else None
        )
        graded_runs = {name: records for name, _, _, records in named if has_graded(records)}
        sections = build_sections(
            results,
            human_trials_for(datasets, data_dir),
            conditions=pd.concat(by_condition, ignore_index=True),
            memorisation=pd.concat(memorisation, ignore_index=True) if memorisation else None,
            publication_dates=dates,
            unseen=unseen,
            finetuned=pairs,
            model_set=chosen,
            graded=(graded_table(graded_runs), graded_cases(graded_runs)) if graded_runs else None,
        )
        if explorer is not None:
            from brainbench.cli.explore import build_explorer

            build_explorer(run_dirs, explorer, data_dir=data_dir, allow_partial=allow_partial)
            link = os.path.relpath(explorer.absolute(), out.absolute().parent)
            sections.insert(0, Section("Item explorer", text=EXPLORER_TEXT, links={f"Open {link}": link}))
        title = f"BrainBench report: {len(named)} run(s)"
        write_report(out, title, sections, PERCENT_TABLES)
        written = save_figures(sections, figures) if figures is not None else []
    (stderr if as_json else stdout).print(
        f"report: {out}" + (f"; {len(written)} figure files in {figures}" if written else ""), highlight=False
    )
    if as_json:
        typer.echo(json.dumps(report_json(title, sections), allow_nan=False, indent=1))


EXPLORER_TEXT = (
    "Every item on its own page: the versions with the altered words marked, each run's choice and confidence, the "
    "experts on it and, for runs that kept per-token scores, where in the text a model found one version more "
    "surprising than the other."
)
