"""Loading test cases and the study's files: published ones by name (mirror -> cache -> download), any file by path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platformdirs

from brainbench.data.cases import TextsMode
from brainbench.data.catalog import DATASETS, GRADED_DATASETS, REFERENCE_FILES
from brainbench.data.fetch import dataset_spec, resolve_dataset_file
from brainbench.data.files import Dataset, inspect_file, load_cases
from brainbench.data.graded import inspect_graded, load_graded
from brainbench.errors import DatasetNotFoundError


def load_dataset(
    name_or_path: str | Path,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    texts: TextsMode = "released",
) -> Dataset:
    """Load a published dataset by name (``brainbench-human``, ``brainbench-gpt4``), a graded one built from them
    (``brainbench-graded``) or a CSV/JSONL file by path.

    Named datasets are looked up in ``data_dir`` (a local mirror), then the user cache, then
    downloaded and checked against their sha256.
    """
    cache = cache_dir or Path(platformdirs.user_cache_dir("brainbench"))
    if str(name_or_path) in GRADED_DATASETS:
        return load_graded(GRADED_DATASETS[str(name_or_path)], data_dir=data_dir, cache_dir=cache, offline=offline)
    path = Path(name_or_path)
    if str(name_or_path) not in DATASETS:
        if path.is_file():
            return load_cases(path, texts=texts)
        if path.is_dir():
            raise DatasetNotFoundError(f"{path}: a folder, not a dataset file (CSV or JSONL)")
        if path.suffix.lower() in {".csv", ".jsonl", ".ndjson"} or path.parent != Path("."):
            raise DatasetNotFoundError(f"{path}: no such file")
    spec = dataset_spec(str(name_or_path))  # an unknown name raises, listing near matches
    path = resolve_dataset_file(spec, data_dir=data_dir, cache_dir=cache, offline=offline)
    return load_cases(path, name=spec.name, case_source=spec.source, texts=texts)


def inspect_dataset(
    name_or_path: str | Path, *, data_dir: Path | None = None, cache_dir: Path | None = None, offline: bool = False
) -> Dataset:
    """Every problem of a file by path, or of a dataset by name (``brainbench validate``); raises only if unreadable."""
    cache = cache_dir or Path(platformdirs.user_cache_dir("brainbench"))
    name, path = str(name_or_path), Path(name_or_path)
    if name in GRADED_DATASETS:
        return inspect_graded(GRADED_DATASETS[name], data_dir=data_dir, cache_dir=cache, offline=offline)
    if name in DATASETS or (not path.exists() and path.suffix == "" and path.parent == Path(".")):
        spec = dataset_spec(name)  # a name that is none of the datasets' raises, suggesting the close ones
        path = resolve_dataset_file(spec, data_dir=data_dir, cache_dir=cache, offline=offline)
        return replace(inspect_file(path), name=spec.name)
    return inspect_file(path)


# Problems of the published files that the paper scored as they are (see the README's "known quirks").
_KNOWN_QUIRKS = {
    "brainbench-human": "row 62's unbalanced bracket [[decreased, increased] garbles its released texts",
    "brainbench-gpt4": "rows 24, 51, 58 and 66 have options with commas, which the released texts cut at the first "
    "comma",
}


def has_known_quirks(dataset: Dataset) -> bool:
    """Whether a dataset's problems are the published file's known quirks (scored as the paper did)."""
    return dataset.name in _KNOWN_QUIRKS


def known_quirks(dataset: Dataset) -> list[str]:
    """What to tell a user about a dataset's problems before scoring it: the published files' known quirks in
    one calm line, any other file's problems counted, with the command that lists them."""
    if not dataset.problems:
        return []
    if dataset.name in _KNOWN_QUIRKS:
        how = (
            "scored as the paper did (the released columns)"
            if dataset.texts == "released"
            else "read anew (--texts reparsed)"
        )
        return [
            f"{dataset.name}: a known quirk of the published file, {how}: {_KNOWN_QUIRKS[dataset.name]} "
            f"(brainbench validate {dataset.name} lists it)"
        ]
    return [
        f"{dataset.name}: {len(dataset.errors)} error(s), {len(dataset.warnings)} warning(s) in the file; scoring "
        f"{'the released columns' if dataset.texts == 'released' else 'the reparsed texts'} of the rows that have "
        "them. "
        f"Details: brainbench validate {dataset.path}"
    ]


def load_human_study(*, data_dir: Path | None = None, cache_dir: Path | None = None, offline: bool = False):
    """The human experts' trials (participant_data.csv joined with abstract_id_doi.csv), one row per trial."""
    from brainbench.data.participants import load_human_trials

    paths = {
        name: reference_file(name, data_dir=data_dir, cache_dir=cache_dir, offline=offline)
        for name in ("participants", "abstract-ids")
    }
    return load_human_trials(paths["participants"], paths["abstract-ids"])


def reference_file(
    name: str, *, data_dir: Path | None = None, cache_dir: Path | None = None, offline: bool = False
) -> Path:
    """A verified local copy of a published reference file (``REFERENCE_FILES``): mirror, cache, else download."""
    cache = cache_dir or Path(platformdirs.user_cache_dir("brainbench"))
    return resolve_dataset_file(REFERENCE_FILES[name], data_dir=data_dir, cache_dir=cache, offline=offline)


def load_gettysburg(**where: Any) -> str:
    """The Gettysburg Address (the memorisation positive control); ``where``: data_dir, cache_dir, offline."""
    return json.loads(reference_file("gettysburg", **where).read_text(encoding="utf-8"))[0]["text"]


def load_publication_dates(**where: Any) -> pd.Series:
    """Publication date of each human-made item, indexed by item id (CSV row)."""
    dates = np.load(reference_file("publication-dates", **where))
    return pd.Series(pd.to_datetime(dates), index=range(len(dates)), name="published")
