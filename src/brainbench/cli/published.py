"""``brainbench import-published``: the paper's released arrays -> run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.app import app, handle_errors, stderr
from brainbench.cli.options import DataDirOption
from brainbench.data import load_dataset
from brainbench.errors import InputError
from brainbench.io import check_output_path
from brainbench.runs.published import PAPER_FOLDERS, has_iso, import_published, swap_folders
from brainbench.settings import load_settings


@app.command("import-published")
def import_published_command(
    path: Path = typer.Argument(
        ..., help="A folder with PPL_A_and_B.npy and labels.npy (e.g. .../mistralai--Mistral-7B-v0.1/human_abstracts)."
    ),
    model: str = typer.Option(..., "--model", help="The model's name in tables and figures."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        "-d",
        help="Dataset the rows belong to (default: from the folder name, human_abstracts or llm_abstracts).",
    ),
    data_dir: DataDirOption = None,
) -> None:
    """Turn the paper's per-model results into a normal run directory; swap_seed<N>/ subfolders become
    OUT/swapped-seed<N>, and the without-context arrays (*_iso.npy) OUT/no-context (one item per sentence pair)."""
    with handle_errors():
        check_output_path(out, "folder")
        name = dataset or PAPER_FOLDERS.get(Path(path).name)
        if name is None:
            raise InputError(
                path,
                None,
                f"cannot tell the dataset from the folder name; pass --dataset ({', '.join(PAPER_FOLDERS.values())})",
            )
        settings = load_settings(data_dir=data_dir)
        data = load_dataset(name, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
        summary = import_published(path, data, model, out, overwrite=True)
        stderr.print(
            f"{model}: {summary['n_items']} items of {data.name}, accuracy {100 * summary['accuracy']:.1f}% -> {out}",
            highlight=False,
        )
        for seed, folder in swap_folders(path).items():
            target = out / f"swapped-seed{seed}"
            swapped = import_published(folder, data, model, target, condition="swapped", seed=seed, overwrite=True)
            stderr.print(
                f"  swapped context (seed {seed}): accuracy {100 * swapped['accuracy']:.1f}% -> {target}",
                highlight=False,
            )
        if has_iso(path):
            iso = import_published(path, data, model, out / "no-context", condition="no-context", overwrite=True)
            stderr.print(
                f"  without context: {iso['n_items']} sentence pairs, accuracy {100 * iso['accuracy']:.1f}% -> "
                f"{out / 'no-context'}",
                highlight=False,
            )
