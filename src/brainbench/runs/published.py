"""Import the paper's released per-model results into normal run directories.

The paper saved, per model and dataset, ``PPL_A_and_B.npy`` (n x 2: PPL of option A and B) and
``labels.npy`` (n: 1 where the altered text is A), row i being CSV row i. Swapped-context
results sit in ``swap_seed*/`` with the same two files; each becomes its own run directory.
The without-context condition (``PPL_A_and_B_iso.npy``, ``labels_iso.npy``) scores each edited
sentence pair alone; ``abstract_mask_iso.npy`` gives each pair's CSV row. Its run directory has
one item per sentence pair (``item_id`` = pair index, ``case_item_id`` = the CSV row).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from brainbench.data import Dataset
from brainbench.data.catalog import PROMPT_TEMPLATES
from brainbench.errors import InputError
from brainbench.runs.records import scored_record
from brainbench.runs.rundir import RunInfo, write_run_dir
from brainbench.runs.spec import RunSpec, ab_labels
from brainbench.runs.store import RunCase
from brainbench.scoring.rules import OptionScore
from brainbench.scoring.templates import find_template

logger = logging.getLogger(__name__)

PPL_FILE = "PPL_A_and_B.npy"
LABELS_FILE = "labels.npy"
ISO_FILES = ("PPL_A_and_B_iso.npy", "labels_iso.npy", "abstract_mask_iso.npy")
# Folder names the paper used for each dataset, to guess the dataset of a results folder.
PAPER_FOLDERS = {"human_abstracts": "brainbench-human", "llm_abstracts": "brainbench-gpt4"}
ZLIB_FILE = "ZLIB_A_and_B.npy"  # zlib entropy of each prompt, A and B, as PPL_A_and_B.npy (Fig S7)
REFERENCE_FILES = ("PPL.npy", "ZLIB.npy")  # a reference corpus: PPL and zlib entropy of each text
# Reference corpora the paper released beside (or inside) a results folder, and what its Fig S7 calls them.
REFERENCE_FOLDERS = {"j_of_neuro": "Journal of Neuroscience (2017-2022)"}


def read_published_arrays(
    results_dir: Path, ppl_file: str = PPL_FILE, labels_file: str = LABELS_FILE
) -> tuple[np.ndarray, np.ndarray]:
    """(PPL n x 2, labels n) from a folder in the paper's format, checked for shape and values."""
    results_dir = Path(results_dir)
    for name in (ppl_file, labels_file):
        if not (results_dir / name).is_file():
            raise InputError(
                results_dir / name, None, f"missing: a published results folder holds {ppl_file} and {labels_file}"
            )
    ppl = np.load(results_dir / ppl_file)
    labels = np.load(results_dir / labels_file)
    if ppl.ndim != 2 or ppl.shape[1] != 2:
        raise InputError(results_dir / ppl_file, None, f"shape {ppl.shape}, expected (n, 2)")
    if labels.shape != (ppl.shape[0],):
        raise InputError(
            results_dir / labels_file, None, f"shape {labels.shape}, expected ({ppl.shape[0]},) as the PPL array"
        )
    if not np.isin(labels, (0, 1)).all():
        raise InputError(results_dir / labels_file, None, "labels must be 0 or 1")
    if not np.isfinite(ppl).all() or (ppl <= 0).any():
        row = int(np.argwhere(~np.isfinite(ppl) | (ppl <= 0))[0][0])
        raise InputError(results_dir / ppl_file, None, f"row {row}: perplexities must be finite and positive")
    return ppl, labels.astype(int)


def import_published(
    results_dir: Path,
    dataset: Dataset,
    model: str,
    out_dir: Path,
    *,
    condition: str = "full",
    seed: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write one run directory from a folder of published arrays, aligned to the dataset's rows; return its summary.

    ``condition`` "full" and "swapped" (a ``swap_seed*`` folder; ``seed`` its seed) read
    PPL_A_and_B.npy / labels.npy (one row per CSV row); "no-context" reads the without-context
    arrays (one row per sentence pair).
    """
    results_dir = Path(results_dir)
    if condition == "no-context":
        ppl, labels = read_published_arrays(results_dir, ISO_FILES[0], ISO_FILES[1])
        rows = np.load(results_dir / ISO_FILES[2]).astype(int)
        if rows.shape != labels.shape:
            raise InputError(results_dir / ISO_FILES[2], None, f"shape {rows.shape}, expected {labels.shape}")
    else:
        ppl, labels = read_published_arrays(results_dir)
        rows = np.arange(len(labels))
        if len(labels) != dataset.n_rows:
            raise InputError(
                results_dir / PPL_FILE, None, f"{len(labels)} rows, but {dataset.name} has {dataset.n_rows} test cases"
            )
    cases = {case.item_id: case for case in dataset.cases}
    unknown = sorted(set(rows.tolist()) - set(cases))
    if unknown:
        raise InputError(results_dir, None, f"rows {unknown[:10]} are not test cases of {dataset.name}")
    if condition != "swapped":  # the swapped condition draws its labels from the swap's own stream
        paper_order = ab_labels(range(len(labels)), 42)
        seed = 42
        if any(paper_order[i] != labels[i] for i in range(len(labels))):
            seed = None
            logger.warning("%s: labels do not follow the seed-42 A/B order; keeping them as published", results_dir)
    template = find_template(model)  # the file the paper used for this model, where its name says which
    spec = RunSpec(
        backend="published",
        model=model,
        template=template,
        template_sha256=PROMPT_TEMPLATES.get(template or ""),
        dataset=dataset.name,
        dataset_sha256=dataset.sha256,
        texts="released",
        condition=condition,
        seed=seed,
    )
    info = RunInfo.build(
        spec,
        model=model,
        scorer={"backend": "published", "source": str(results_dir.resolve())},
        n_requested=len(labels),
        dataset_path=str(dataset.path),
        template_chosen_by="the paper's file for this model" if template else None,
    )
    out_dir = Path(out_dir)
    records = []
    for index, (row, label) in enumerate(zip(rows.tolist(), labels.tolist())):
        case = cases[row]
        shown = (1, 0) if label else (0, 1)  # label is the position of the original among (A, B)
        run_case = RunCase(
            index if condition == "no-context" else row, case.doi, case.subfield, case.source, ("", ""), shown
        )
        options = [
            OptionScore(float(ppl[index, label])),
            OptionScore(float(ppl[index, 1 - label])),
        ]  # original, altered
        record = scored_record(run_case, options, None)
        if condition == "no-context":
            record["case_item_id"] = row
        records.append(record)
    summary = write_run_dir(out_dir, info, records, overwrite=overwrite)
    assert summary is not None
    return summary


def has_iso(results_dir: Path) -> bool:
    """Whether a published results folder holds the without-context arrays."""
    return all((Path(results_dir) / name).is_file() for name in ISO_FILES)


def swap_folders(results_dir: Path) -> dict[int, Path]:
    """The swapped-context result folders (``swap_seed<seed>/``) inside a published results folder, by seed."""
    folders = [path for path in Path(results_dir).glob("swap_seed*") if (path / PPL_FILE).is_file()]
    by_seed = {
        int(path.name.removeprefix("swap_seed")): path
        for path in folders
        if path.name.removeprefix("swap_seed").isdigit()
    }
    return dict(sorted(by_seed.items()))


def is_reference_folder(path: Path) -> bool:
    """Whether a folder holds a released reference corpus (PPL.npy and ZLIB.npy, e.g. ``j_of_neuro/``)."""
    return all((Path(path) / name).is_file() for name in REFERENCE_FILES)


def reference_folders(results_dir: Path) -> dict[str, Path]:
    """{label: folder} of the reference corpora released with a results folder: inside it (the authors' layout) or
    beside it (``published_results/gpt2/j_of_neuro``)."""
    results_dir = Path(results_dir)
    found = {}
    for name, label in REFERENCE_FOLDERS.items():
        for folder in (results_dir / name, results_dir.parent / name):
            if is_reference_folder(folder):
                found[label] = folder
                break
    return found


def read_reference_arrays(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(PPL n, zlib entropy n) of a released reference corpus, checked."""
    ppl, zlib = (np.load(Path(folder) / name) for name in REFERENCE_FILES)
    if ppl.ndim != 1 or zlib.shape != ppl.shape:
        raise InputError(folder, None, f"PPL.npy {ppl.shape} and ZLIB.npy {zlib.shape}: expected two arrays of (n,)")
    if not np.isfinite(ppl).all() or (ppl <= 0).any() or (zlib <= 0).any():
        raise InputError(folder, None, "perplexities and zlib entropies must be finite and positive")
    return ppl, zlib


def published_memorisation_rows(
    results_dir: Path, dataset: Dataset | None, model: str, references: dict[str, Path] | None = None
) -> list[dict[str, Any]]:
    """The memorisation table (``memorisation.jsonl`` rows) from the paper's own numbers: each item's original and
    altered prompt with its PPL (PPL_A_and_B.npy) and zlib entropy (ZLIB_A_and_B.npy), and each text of the
    ``references`` ({label: folder of PPL.npy, ZLIB.npy}). Token log-probabilities were not released: PPL and
    ln(PPL)/zlib are there, Min-K% and Min-K%++ are not. Empty where the folder holds no zlib array."""
    rows: list[dict[str, Any]] = []
    scorer_key = f"published:{model}"
    if (Path(results_dir) / ZLIB_FILE).is_file():
        ppl, labels = read_published_arrays(results_dir)
        zlib, zlib_labels = read_published_arrays(results_dir, ZLIB_FILE)
        if zlib.shape != ppl.shape or not (zlib_labels == labels).all():
            raise InputError(Path(results_dir) / ZLIB_FILE, None, f"shape {zlib.shape}, expected {ppl.shape}")
        cases = {case.item_id: case for case in dataset.cases} if dataset is not None else {}
        for row, label in enumerate(labels.tolist()):
            for kind, position in (("original", label), ("altered", 1 - label)):
                rows.append(
                    {
                        "kind": kind,
                        "label": "item",
                        "item_id": row,
                        "doi": cases[row].doi if row in cases else None,
                        "text_sha256": f"{scorer_key}:{kind}:{row}",
                        "scorer_key": scorer_key,
                        "n_bytes": None,
                        "zlib": int(zlib[row, position]),
                        "ppl": float(ppl[row, position]),
                    }
                )
    for label, folder in (references or {}).items():
        ppl, zlib = read_reference_arrays(folder)
        rows.extend(
            {
                "kind": "reference",
                "label": label,
                "item_id": index,
                "doi": None,
                "text_sha256": f"{scorer_key}:{label}:{index}",
                "scorer_key": scorer_key,
                "n_bytes": None,
                "zlib": int(zlib[index]),
                "ppl": float(ppl[index]),
            }
            for index in range(len(ppl))
        )
    return rows
