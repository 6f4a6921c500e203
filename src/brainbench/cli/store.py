"""``brainbench runs`` and ``brainbench export``: what the results store holds, and run directories from it.

One rule for where the store is, in every command: ``--store``, else ``BRAINBENCH_STORE``, else the
user's store (``brainbench.runs.plan.default_store``). A run directory names the store it came from,
so ``runs`` and ``export`` take a run directory too, and then use that store (``runs.rundir.run_dir_store``).
Listing never creates a store.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from brainbench.cli.app import app, handle_errors, print_json, stdout
from brainbench.cli.options import JsonOption
from brainbench.cli.summary import print_summary
from brainbench.io import check_output_path
from brainbench.runs.execute import export_run
from brainbench.runs.info import RunInfo
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


@app.command("runs", rich_help_panel="Run and results")
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
        print_json(listed)
        return
    table = Table(title=f"{results.display_url}: {len(listed)} run(s), {results.count_scores()} scored texts")
    columns = ("run", "model", "dataset", "condition", "template", "seed", "items", "scored", "errors", "out")
    for column in columns:
        table.add_column(column, justify="right" if column in ("seed", "items", "scored", "errors") else "left")
    for run in listed:
        table.add_row(*(str(run[column]) for column in columns))
    stdout.print(table)


def requested_items(info: RunInfo, records: list[dict]) -> list[int] | None:
    """The items a run directory's run asked for: as its run.json says, else (brainbench 0.8) those it holds when it
    is complete; None where that cannot be known (then every item the store holds of the run)."""
    if info.items is not None:
        return info.items
    return [record["item_id"] for record in records] if len(records) == info.n_requested else None


@app.command("export", rich_help_panel="Run and results")
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
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run (or other files) in --out."),
) -> None:
    """Write a run directory (run.json, results.jsonl, summary.json) from the results store. A run directory given
    is rewritten with the items its run asked for (what else the store holds of the same run is left out)."""
    with handle_errors():
        if out is not None:
            check_output_path(out, "folder")
        run_dir = Path(run) if (Path(run) / RUN_FILE).is_file() else None
        results = open_store(store, run_dir)
        item_ids = None
        if run_dir is not None:
            given, records = load_run(run_dir)
            run_key, item_ids = given.run_key, requested_items(given, records)
        else:
            run_key = results.find_run(run)
        info = results.run_info(run_key)
        default = run_dir or Path("runs") / run_dir_name(
            info.model,
            info.dataset,
            info.backend,
            info.condition,
            info.seed,
            info.protocol,
        )
        out_dir = out or default
        summary = export_run(results, run_key, out_dir, item_ids=item_ids, overwrite=overwrite)
    print_summary(summary)
    stdout.print(f"written: {out_dir}", highlight=False)
