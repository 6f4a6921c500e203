"""``brainbench humans`` and ``brainbench compare``: the paper's tables for the experts and for runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from brainbench.analysis import (
    accuracy_by,
    accuracy_by_experience,
    describe_agreement,
    describe_mean,
    describe_models_vs_humans,
    expertise_calibration,
    human_summary,
    participant_table,
    trials_of,
)
from brainbench.analysis.compare import compare_runs
from brainbench.cli.app import allow_partial_option, app, handle_errors, print_json, rule_option, stderr, stdout
from brainbench.cli.options import DataDirOption, JsonOption
from brainbench.data import load_human_study
from brainbench.data.participants import load_human_trials
from brainbench.errors import InputError
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="index", double_precision=15))
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


@app.command("humans", rich_help_panel="Analyses")
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
    data_dir: DataDirOption = None,
    participants: Path | None = typer.Option(
        None,
        "--participants",
        help="Your own study's participant_data.csv (from `brainbench study`'s export) instead of the paper's.",
    ),
    abstract_ids: Path | None = typer.Option(
        None, "--abstract-ids", help="With --participants: its abstract_id_doi.csv."
    ),
    as_json: JsonOption = False,
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
        print_json({k: _jsonable(v) for k, v in tables.items()})
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


@app.command("compare", rich_help_panel="Analyses")
def compare_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (from `brainbench run` or `import-published`)."),
    data_dir: DataDirOption = None,
    model_set: str | None = typer.Option(
        None,
        "--model-set",
        help="'paper': the mean and the tests over the paper's 15 models (the default whenever all 15 have runs).",
    ),
    normalisation: str = rule_option(),
    allow_partial: bool = allow_partial_option(),
    as_json: JsonOption = False,
) -> None:
    """Accuracy of several runs side by side with the human experts; mean, models vs experts, subfields,
    agreement, Table S3, chat vs base and size; for two runs also McNemar's test and a bootstrap CI of
    their difference."""
    with handle_errors():
        tables = compare_runs(
            run_dirs,
            data_dir=data_dir,
            model_set=model_set,
            normalisation=normalisation,
            allow_partial=allow_partial,
        )
    if as_json:
        print_json(_jsonable(tables))
        return
    percent = ("accuracy", "ci95_low", "ci95_high")
    print_frame(
        tables["accuracy"][["n", "n_correct", "accuracy", "ci95_low", "ci95_high", "chance"]],
        "Accuracy",
        percent=(*percent, "chance"),
    )
    for caveat in tables["caveats"]:
        stdout.print(f"[yellow]note: {escape(caveat)}[/yellow]", highlight=False)
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


@app.command("report", rich_help_panel="Analyses")
def report_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (from `brainbench run` or `import-published`)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    figures: Path | None = typer.Option(None, "--figures", help="Also save every figure as PNG and SVG here."),
    data_dir: DataDirOption = None,
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
    from brainbench.report import build_report, report_json

    with handle_errors():
        report = build_report(
            run_dirs,
            out,
            figures=figures,
            explorer=explorer,
            data_dir=data_dir,
            finetuned=finetuned,
            model_set=model_set,
            unseen=unseen,
            normalisation=normalisation,
            allow_partial=allow_partial,
        )
    (stderr if as_json else stdout).print(
        f"report: {out}" + (f"; {len(report.figure_files)} figure files in {figures}" if report.figure_files else ""),
        highlight=False,
    )
    if as_json:
        typer.echo(json.dumps(report_json(report.title, report.sections), allow_nan=False, indent=1))
