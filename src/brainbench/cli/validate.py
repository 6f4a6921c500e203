"""``brainbench validate``: list every problem of a test-case file."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.app import app, handle_errors, stderr, stdout
from brainbench.data import DATASETS, inspect_file
from brainbench.data.fetch import dataset_spec, resolve_dataset_file
from brainbench.settings import load_settings


@app.command("validate")
def validate_command(
    file: str = typer.Argument(..., help="A CSV/JSONL file, or a dataset name such as brainbench-human."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Local mirror of the dataset files."),
) -> None:
    """List all problems (errors and warnings) as file:line: reason; exit 1 if there is any error."""
    with handle_errors():
        path = Path(file)
        if file in DATASETS or (not path.exists() and path.suffix == "" and path.parent == Path(".")):
            spec = dataset_spec(file)  # a name that is none of the datasets' raises, suggesting the close ones
            settings = load_settings(data_dir=data_dir)
            path = resolve_dataset_file(spec, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
        dataset = inspect_file(path)
    for problem in dataset.problems:
        stdout.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    stderr.print(
        f"{path}: {dataset.n_rows} rows, {len(dataset.cases)} scorable, "
        f"{len(dataset.errors)} error(s), {len(dataset.warnings)} warning(s)",
        highlight=False,
    )
    if dataset.errors:
        raise typer.Exit(1)
