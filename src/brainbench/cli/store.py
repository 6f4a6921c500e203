"""``brainbench runs`` and ``brainbench export``: what the results store holds, and run directories from it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from brainbench.cli.app import app, handle_errors, stdout
from brainbench.cli.summary import print_summary
from brainbench.runs.execute import export_run, run_dir_name
from brainbench.runs.store import STORE_FILE, ResultsStore
from brainbench.settings import load_settings

STORE_HELP = f"Results store: SQLite file or database URL (or BRAINBENCH_STORE; default runs/{STORE_FILE})."


def open_store(store: str | None) -> ResultsStore:
    return ResultsStore(load_settings(store=store).store or Path("runs") / STORE_FILE)


@app.command("runs")
def runs_command(
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the runs in the results store: model, dataset, cases, how many are scored."""
    with handle_errors():
        results = open_store(store)
        listed = results.list_runs()
    if as_json:
        stdout.print_json(json.dumps(listed))
        return
    table = Table(title=f"{results.display_url}: {len(listed)} run(s), {results.count_scores()} scored texts")
    columns = ("run", "model", "dataset", "condition", "template", "seed", "items", "scored", "errors", "created_at")
    for column in columns:
        table.add_column(column, justify="right" if column in ("seed", "items", "scored", "errors") else "left")
    for run in listed:
        table.add_row(*(str(run[column]) for column in columns))
    stdout.print(table)


@app.command("export")
def export_command(
    run: str = typer.Argument(..., help="A run key or its first characters (brainbench runs lists them)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory to write (default runs/<model>__<dataset>)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Write a run directory (run.json, results.jsonl, summary.json) from the results store."""
    with handle_errors():
        results = open_store(store)
        run_key = results.find_run(run)
        info = results.run_info(run_key)
        out_dir = out or Path("runs") / run_dir_name(info["model"], info["dataset"], info["scorer"].get("backend", "transformers"))
        summary = export_run(results, run_key, out_dir)
    print_summary(summary)
    stdout.print(f"written: {out_dir}", highlight=False)
