"""``brainbench team``: do experts and models decide better together than either alone?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from brainbench.analysis.team import N_BOOTSTRAP, team_runs
from brainbench.cli.app import app, handle_errors, print_json, stdout
from brainbench.cli.options import DataDirOption, JsonOption


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:+.1f}"


def _short(name: str) -> str:
    """A model's name without its organisation (``org--model`` or ``org/model``)."""
    return " + ".join(part.replace("/", "--").split("--")[-1] for part in str(name).split(" + "))


def _ci(low: float, high: float, points: bool = False) -> str:
    return f"{_points(low)} to {_points(high)}" if points else f"{_pct(low)}-{_pct(high)}"


def _add_columns(table: Table, columns: tuple[str, ...], left: int) -> None:
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < left else "right")


def print_teams(tables: dict[str, pd.DataFrame]) -> None:
    """The team table, how each member's calibration bears on the gain, and subfields, on stdout."""
    teams = Table(title="Teams, cross-validated (95% CIs: bootstrap over items)")
    _add_columns(
        teams,
        ("team", "trials", "a alone", "b alone", "team (95% CI)", "gain, points (95% CI)", "disagree: n, a / b / team"),
        1,
    )
    for name, row in tables["teams"].iterrows():
        teams.add_row(
            _short(name),
            str(row["n_trials"]),
            _pct(row["acc_a"]),
            _pct(row["acc_b"]),
            f"{_pct(row['acc_team'])} ({_ci(row['acc_team_ci95_low'], row['acc_team_ci95_high'])})",
            f"{_points(row['gain'])} ({_ci(row['gain_ci95_low'], row['gain_ci95_high'], True)})",
            f"{row['n_disagree']}: {_pct(row['acc_a_disagree'])} / {_pct(row['acc_b_disagree'])} / "
            f"{_pct(row['acc_team_disagree'])}",
        )
    stdout.print(teams)
    calibration = Table(
        title="Calibration and weight; the gain again with one member's confidence shuffled (choices kept)"
    )
    _add_columns(
        calibration, ("team", "member", "confidence AUC", "weight", "gain", "shuffled: weight", "gain (95% CI)"), 2
    )
    for (name, member), row in tables["calibration"].iterrows():
        calibration.add_row(
            _short(name),
            _short(member),
            f"{row['confidence_auc']:.3f}",
            f"{row['weight']:.2f}",
            _points(row["gain"]),
            f"{row['weight_shuffled']:.2f}",
            f"{_points(row['gain_shuffled'])} "
            f"({_ci(row['gain_shuffled_ci95_low'], row['gain_shuffled_ci95_high'], True)})",
        )
    stdout.print(calibration)
    subfields = Table(title="By subfield")
    _add_columns(subfields, ("team", "subfield", "trials", "a alone", "b alone", "team", "gain, points (95% CI)"), 2)
    for (name, subfield), row in tables["by_subfield"].iterrows():
        subfields.add_row(
            _short(name),
            str(subfield),
            str(row["n_trials"]),
            _pct(row["acc_a"]),
            _pct(row["acc_b"]),
            _pct(row["acc_team"]),
            f"{_points(row['gain'])} ({_ci(row['gain_ci95_low'], row['gain_ci95_high'], True)})",
        )
    stdout.print(subfields)


@app.command("team", rich_help_panel="Analyses")
def team_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories (from `brainbench run` or `import-published`) of one dataset.")
    ],
    humans: Annotated[
        Path | None,
        typer.Option(
            "--humans",
            help="Your own study's participant_data.csv (from `brainbench study`'s export) instead of the paper's "
            "experts.",
        ),
    ] = None,
    abstract_ids: Annotated[
        Path | None, typer.Option("--abstract-ids", help="With --humans: its abstract_id_doi.csv.")
    ] = None,
    data_dir: DataDirOption = None,
    folds: Annotated[int, typer.Option("--folds", help="K of the grouped K-fold by item.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds, the expert pairing and the bootstrap.")] = 0,
    allow_partial: Annotated[
        bool,
        typer.Option("--allow-partial", help="Use runs that hold fewer items than they were asked for as they are."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Human-LLM, LLM-LLM and human-human teams: each trial's two judgements (choice and confidence) combined by a
    logistic regression fitted on other items (grouped K-fold); accuracy against each member alone, with CIs."""
    with handle_errors():
        tables = team_runs(
            run_dirs,
            humans=humans,
            abstract_ids=abstract_ids,
            data_dir=data_dir,
            n_folds=folds,
            seed=seed,
            allow_partial=allow_partial,
        )
    if as_json:
        settings = {
            "combination": "logistic regression (scikit-learn defaults) on standardised signed evidence",
            "folds": folds,
            "seed": seed,
            "cv": "grouped K-fold by item",
            "ci": f"percentile, {N_BOOTSTRAP} bootstrap resamples of items",
        }
        tables_json = {key: json.loads(frame.reset_index().to_json(orient="records")) for key, frame in tables.items()}
        print_json({"settings": settings, **tables_json})
        return
    print_teams(tables)
