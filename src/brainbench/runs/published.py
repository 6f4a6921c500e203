"""Import the paper's released per-model results into normal run directories.

The paper saved, per model and dataset, ``PPL_A_and_B.npy`` (n x 2: PPL of option A and B) and
``labels.npy`` (n: 1 where the altered text is A), row i being CSV row i. Swapped-context
results sit in ``swap_seed*/`` with the same two files; each becomes its own run directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from brainbench import __version__
from brainbench.data import Dataset
from brainbench.errors import InputError
from brainbench.runs.execute import (
    RESULTS_FILE,
    RUN_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    case_fields,
    ab_labels,
    decide,
    prepare_run_dir,
    read_results,
    write_json,
)
from brainbench.runs.summary import summarize

logger = logging.getLogger(__name__)

PPL_FILE = "PPL_A_and_B.npy"
LABELS_FILE = "labels.npy"
# Folder names the paper used for each dataset, to guess the dataset of a results folder.
PAPER_FOLDERS = {"human_abstracts": "brainbench-human", "llm_abstracts": "brainbench-gpt4"}


def read_published_arrays(results_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(PPL n x 2, labels n) from a folder in the paper's format, checked for shape and values."""
    results_dir = Path(results_dir)
    for name in (PPL_FILE, LABELS_FILE):
        if not (results_dir / name).is_file():
            raise InputError(results_dir / name, None, "missing: a published results folder holds PPL_A_and_B.npy and labels.npy")
    ppl = np.load(results_dir / PPL_FILE)
    labels = np.load(results_dir / LABELS_FILE)
    if ppl.ndim != 2 or ppl.shape[1] != 2:
        raise InputError(results_dir / PPL_FILE, None, f"shape {ppl.shape}, expected (n, 2)")
    if labels.shape != (ppl.shape[0],):
        raise InputError(results_dir / LABELS_FILE, None, f"shape {labels.shape}, expected ({ppl.shape[0]},) as the PPL array")
    if not np.isin(labels, (0, 1)).all():
        raise InputError(results_dir / LABELS_FILE, None, "labels must be 0 or 1")
    if not np.isfinite(ppl).all() or (ppl <= 0).any():
        row = int(np.argwhere(~np.isfinite(ppl) | (ppl <= 0))[0][0])
        raise InputError(results_dir / PPL_FILE, None, f"row {row}: perplexities must be finite and positive")
    return ppl, labels.astype(int)


def import_published(
    results_dir: Path, dataset: Dataset, model: str, out_dir: Path, *, condition: str = "full", overwrite: bool = False
) -> dict[str, Any]:
    """Write one run directory from a folder of published arrays, aligned to the dataset's rows; return its summary."""
    ppl, labels = read_published_arrays(results_dir)
    cases = {case.item_id: case for case in dataset.cases}
    if len(labels) != dataset.n_rows or set(cases) != set(range(dataset.n_rows)):
        raise InputError(results_dir / PPL_FILE, None, f"{len(labels)} rows, but {dataset.name} has {dataset.n_rows} test cases")
    paper_order = ab_labels(list(range(len(labels))), 42)
    seed: int | None = 42
    if any(paper_order[i] != labels[i] for i in range(len(labels))):
        seed = None  # the swapped-context runs drew their order differently; labels are kept as published
        if condition == "full":
            logger.warning("%s: labels do not follow the seed-42 A/B order; keeping them as published", results_dir)
    run_info: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "brainbench": __version__,
        "model": model,
        "scorer": {"backend": "published", "source": str(Path(results_dir).resolve())},
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_sha256": dataset.sha256,
        "texts": "released",
        "template": "paper",
        "template_text": None,
        "seed": seed,
        "condition": condition,
    }
    out_dir = Path(out_dir)
    prepare_run_dir(out_dir, run_info, overwrite=overwrite)
    records = []
    for row in range(len(labels)):
        label = int(labels[row])
        # label is also the index of the original text among (A, B)
        ppl_original, ppl_altered = float(ppl[row, label]), float(ppl[row, 1 - label])
        records.append(
            {
                **case_fields(cases[row], label, "ok"),
                "nll_original": None,
                "nll_altered": None,
                "ntokens_original": None,
                "ntokens_altered": None,
                **decide(label, ppl_original, ppl_altered),
                "elapsed_s": None,
            }
        )
    (out_dir / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run_info = json.loads((out_dir / RUN_FILE).read_text(encoding="utf-8"))
    summary = summarize(read_results(out_dir), run_info)
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def swap_folders(results_dir: Path) -> list[Path]:
    """The swapped-context result folders (``swap_seed*/``) inside a published results folder."""
    return sorted(path for path in Path(results_dir).glob("swap_seed*") if (path / PPL_FILE).is_file())
