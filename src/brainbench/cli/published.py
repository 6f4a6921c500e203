"""``brainbench import-published``: the paper's released arrays -> run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.app import app, handle_errors, stderr
from brainbench.cli.options import DataDirOption
from brainbench.data import load_dataset
from brainbench.errors import InputError
from brainbench.io import check_output_path
from brainbench.runs.memorisation import MEMORISATION_FILE, write_memorisation
from brainbench.runs.published import (
    PAPER_FOLDERS,
    PPL_FILE,
    REFERENCE_FOLDERS,
    has_iso,
    import_published,
    is_reference_folder,
    published_memorisation_rows,
    read_published_arrays,
    reference_folders,
    swap_folders,
)
from brainbench.runs.rundir import load_run
from brainbench.settings import load_settings


@app.command("import-published", rich_help_panel="Integrations")
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
    OUT/swapped-seed<N>, and the without-context arrays (*_iso.npy) OUT/no-context (one item per sentence pair).
    ZLIB_A_and_B.npy and a j_of_neuro/ folder (PPL.npy, ZLIB.npy) beside or inside it become OUT/memorisation.jsonl,
    the paper's Fig S7 from its own numbers; a j_of_neuro/ folder alone adds to the run directory OUT."""
    with handle_errors():
        check_output_path(out, "folder")
        if is_reference_folder(path) and not (Path(path) / PPL_FILE).is_file():
            import_reference_corpus(path, model, out)
            return
        name = dataset or PAPER_FOLDERS.get(Path(path).name)
        if name is None and Path(path).name == "catch_trials":
            ppl, labels = read_published_arrays(path)
            right = int(sum(ppl[row, label] < ppl[row, 1 - label] for row, label in enumerate(labels)))
            raise InputError(
                path,
                None,
                f"the paper's {len(labels)} catch trials ({right} of {len(labels)} right by these PPLs): their PPLs "
                "and labels were released, not their texts or DOIs, so there is no dataset to align them to "
                "(brainbench has no brainbench-catch; see the README)",
            )
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
        memorisation = published_memorisation_rows(path, data, model, reference_folders(path))
        if memorisation:
            write_memorisation(out, memorisation)
            kinds = sorted({row["label"] for row in memorisation if row["kind"] == "reference"})
            n_items = sum(row["kind"] == "original" for row in memorisation)
            stderr.print(
                f"  memorisation (Fig S7): PPL and zlib entropy of {n_items} items"
                + (f" and of {', '.join(kinds)}" if kinds else "")
                + f" -> {out / MEMORISATION_FILE}",
                highlight=False,
            )
        if has_iso(path):
            iso = import_published(path, data, model, out / "no-context", condition="no-context", overwrite=True)
            stderr.print(
                f"  without context: {iso['n_items']} sentence pairs, accuracy {100 * iso['accuracy']:.1f}% -> "
                f"{out / 'no-context'}",
                highlight=False,
            )


def import_reference_corpus(path: Path, model: str, out: Path) -> None:
    """A released reference corpus (PPL.npy, ZLIB.npy) into the memorisation table of the run directory ``out``,
    which must hold an imported run of the same model."""
    if not (out / "run.json").is_file():
        raise InputError(
            path,
            None,
            "a reference corpus (PPL.npy, ZLIB.npy), not a run: import its model's human_abstracts folder first "
            "(the corpus comes along when it sits beside it), or pass --out that run directory",
        )
    info, _ = load_run(out)
    if info.model != model:
        raise InputError(path, None, f"--out {out} holds a run of {info.model}, not of {model}")
    label = REFERENCE_FOLDERS.get(Path(path).name, Path(path).name)
    rows = published_memorisation_rows(Path(path), None, model, {label: Path(path)})
    write_memorisation(out, rows, replace_labels=True)
    stderr.print(f"{model}: {len(rows)} texts of {label} -> {out / MEMORISATION_FILE}", highlight=False)
