"""``brainbench sweep``: many models x datasets from one YAML file, one summary table at the end."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from brainbench.cli.app import app, handle_errors, print_json, progress_bar, stderr, stdout
from brainbench.cli.options import DataDirOption, JsonOption, OfflineOption, StoreOption
from brainbench.runs.sweep import load_sweep, run_sweep
from brainbench.settings import load_settings


@app.command("sweep", rich_help_panel="Run and results")
def sweep_command(
    sweep_file: Path = typer.Argument(..., help="A sweep YAML file: datasets, models (see the README)."),
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    offline: OfflineOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run every model of a sweep file on every dataset, skipping what the results store already has."""
    with handle_errors():
        sweep = load_sweep(sweep_file)
        settings = load_settings(data_dir=data_dir, offline=offline, store=store)
        progress = progress_bar()
        with progress:
            task = progress.add_task("loading", total=None)
            rows = run_sweep(
                sweep,
                data_dir=settings.data_dir,
                cache_dir=settings.cache_dir,
                offline=settings.offline,
                store=settings.store,
                on_start=lambda model, dataset: progress.reset(task, description=f"{model} x {dataset}", total=None),
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    if as_json:
        print_json(rows)
    else:
        limited = (
            f" (limited: {'the first ' + str(sweep.limit) if sweep.limit else 'items ' + str(sweep.items)} items of "
            "each dataset)"
            if sweep.limited
            else ""
        )
        table = Table(
            title=f"sweep {sweep_file}: {len(sweep.models)} model(s) x {len(sweep.datasets)} dataset(s){limited}"
        )
        for column in ("model", "backend", "dataset", "condition", "template", "items", "accuracy", "95% CI", "errors"):
            table.add_column(column, justify="right" if column in ("items", "accuracy", "errors") else "left")
        for row in rows:
            if "error" in row:
                table.add_row(
                    row["model"],
                    row["backend"],
                    row["dataset"],
                    row.get("condition", ""),
                    "",
                    "",
                    "",
                    "",
                    "[red]failed[/red]",
                )
                continue
            low, high = row["ci95"]
            items = f"{row['n_items']} (limited)" if row["limited"] else str(row["n_items"])
            table.add_row(
                row["model"],
                row["backend"],
                row["dataset"],
                row["condition"],
                row["template"],
                items,
                f"{100 * row['accuracy']:.1f}%",
                f"{100 * low:.1f}-{100 * high:.1f}%",
                str(row["n_errors"]),
            )
        stdout.print(table)
        for row in rows:
            if "error" in row:
                stderr.print(
                    f"[red]{escape(row['model'])} x {escape(row['dataset'])}: {escape(row['error'])}[/red]",
                    highlight=False,
                )
    if any("error" in row for row in rows):
        raise typer.Exit(1)
