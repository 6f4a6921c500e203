"""``brainbench validate``: list every problem of a test-case file."""

from __future__ import annotations

import typer

from brainbench.cli.app import app, handle_errors, stderr, stdout
from brainbench.cli.options import DataDirOption
from brainbench.data.load import has_known_quirks, inspect_dataset
from brainbench.settings import load_settings


@app.command("validate", rich_help_panel="Run and results")
def validate_command(
    file: str = typer.Argument(
        ..., help="A CSV/JSONL file, or a dataset name such as brainbench-human or brainbench-graded."
    ),
    data_dir: DataDirOption = None,
) -> None:
    """List all problems (errors and warnings) as file:line: reason; exit 1 if there is any error."""
    with handle_errors():
        settings = load_settings(data_dir=data_dir)
        dataset = inspect_dataset(
            file, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline
        )
        path = dataset.path
    for problem in dataset.problems:
        stdout.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    stderr.print(
        f"{path}: {dataset.n_rows} rows, {len(dataset.cases)} scorable, "
        f"{len(dataset.errors)} error(s), {len(dataset.warnings)} warning(s)",
        highlight=False,
    )
    if dataset.errors and has_known_quirks(dataset):
        stderr.print(
            f"{dataset.name}: these are known quirks of the published file; brainbench scores it as the paper did",
            highlight=False,
        )
    elif dataset.errors:
        raise typer.Exit(1)
