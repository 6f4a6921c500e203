"""``brainbench runs`` and ``brainbench export``: what the results store holds, and run directories from it.

One rule for where the store is, in every command: ``--store``, else ``BRAINBENCH_STORE``, else the
user's store (``brainbench.runs.plan.default_store``). A run directory names the store it came from,
so ``runs`` and ``export`` take a run directory too, and then use that store (``runs.rundir.run_dir_store``).
Listing never creates a store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from brainbench.cli.app import app, handle_errors, stdout
from brainbench.cli.options import JsonOption
from brainbench.cli.summary import print_summary
from brainbench.runs.execute import export_run
from brainbench.runs.plan import default_store, run_dir_name
from brainbench.runs.rundir import RUN_FILE, load_run, run_dir_store
from brainbench.runs.store import ResultsStore
from brainbench.settings import STORE_ENV, load_settings

STORE_HELP = "Results store: SQLite file or database URL (or BRAINBENCH_STORE; default: the user's store)."


def open_store(store: str | None, run_dir: Path | None = None, *, create: bool = False) -> ResultsStore:
    """The store ``run_dir`` came from (a different ``--store`` is refused; ``BRAINBENCH_STORE`` does not replace
    it); without a run directory the store named by ``--store`` (or the environment), else the user's."""
    if run_dir is not None:
        chosen = run_dir_store(run_dir, store, os.environ.get(STORE_ENV) or None)
    else:
        chosen = load_settings(store=store).store
    return ResultsStore(chosen or default_store(), create=create)


@app.command("runs")
def runs_command(
    run_dir: Path | None = typer.Argument(None, help="A run directory: list the store it came from."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    as_json: JsonOption = False,
) -> None:
    """List the runs in the results store: model, dataset, cases, how many are scored, where each was written."""
    with handle_errors():
        results = open_store(store, run_dir)
        listed = results.list_runs()
    if as_json:
        stdout.print_json(json.dumps(listed))
        return
    table = Table(title=f"{results.display_url}: {len(listed)} run(s), {results.count_scores()} scored texts")
    columns = ("run", "model", "dataset", "condition", "template", "seed", "items", "scored", "errors", "out")
    for column in columns:
        table.add_column(column, justify="right" if column in ("seed", "items", "scored", "errors") else "left")
    for run in listed:
        table.add_row(*(str(run[column]) for column in columns))
    stdout.print(table)


@app.command("export")
def export_command(
    run: str = typer.Argument(
        ..., help="A run key or its first characters (brainbench runs lists them), or a run directory."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Run directory to write (default: the run directory given, else runs/<model>__<dataset>).",
    ),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Write a run directory (run.json, results.jsonl, summary.json) from the results store."""
    with handle_errors():
        run_dir = Path(run) if (Path(run) / RUN_FILE).is_file() else None
        results = open_store(store, run_dir)
        run_key = load_run(run_dir)[0].run_key if run_dir is not None else results.find_run(run)
        info = results.run_info(run_key)
        default = run_dir or Path("runs") / run_dir_name(
            info.model,
            info.dataset,
            info.backend,
            info.condition,
            info.seed,
        )
        out_dir = out or default
        summary = export_run(results, run_key, out_dir)
    print_summary(summary)
    stdout.print(f"written: {out_dir}", highlight=False)
