"""Find a dataset's file: local mirror -> user cache -> download with sha256 check. The only network in data/."""

from __future__ import annotations

import difflib
import hashlib
import logging
from pathlib import Path

from brainbench.data.catalog import DATASETS, GRADED_DATASETS, DatasetSpec, ReferenceFile
from brainbench.data.files import sha256_file
from brainbench.errors import ChecksumError, DatasetNotFoundError
from brainbench.io import atomic_open

logger = logging.getLogger(__name__)


def dataset_spec(name: str) -> DatasetSpec:
    """The catalogue entry for ``name``; an unknown name lists the near matches."""
    if name in DATASETS:
        return DATASETS[name]
    known = [*DATASETS, *GRADED_DATASETS]
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    raise DatasetNotFoundError(f"unknown dataset {name!r}; known: {', '.join(known)}.{hint} A file path works too.")


def _verified(path: Path, spec: ReferenceFile, where: str) -> Path:
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ChecksumError(
            f"{path}: sha256 {actual[:12]}... does not match {spec.name}'s {spec.sha256[:12]}... ({where}). "
            "Replace the file, or pass it by path to score it as a user dataset."
        )
    return path


def download(url: str, target: Path, sha256: str) -> None:
    """Download to ``target.incomplete``, verify sha256, then move into place atomically."""
    import httpx

    digest = hashlib.sha256()
    with atomic_open(target, "wb") as handle, httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            digest.update(chunk)
            handle.write(chunk)
        if digest.hexdigest() != sha256:  # raised inside: the partial file is removed, nothing lands in the cache
            raise ChecksumError(
                f"{url}: sha256 {digest.hexdigest()[:12]}... does not match the expected {sha256[:12]}..."
            )


def resolve_dataset_file(spec: ReferenceFile, *, data_dir: Path | None, cache_dir: Path, offline: bool = False) -> Path:
    """Return a verified local copy of ``spec``'s file, downloading it into the cache if needed."""
    if data_dir is not None:
        mirrored = Path(data_dir) / spec.filename
        if mirrored.is_file():
            return _verified(mirrored, spec, f"mirror {data_dir}")
        logger.warning("%s not in the mirror %s; trying the cache", spec.filename, data_dir)
    cached = Path(cache_dir) / "datasets" / spec.filename
    if cached.is_file():
        return _verified(cached, spec, "cache")
    if offline:
        raise DatasetNotFoundError(
            f"{spec.name}: {spec.filename} is not in the mirror ({data_dir or 'none set'}) nor the cache "
            f"({cached.parent}), "
            "and offline mode forbids downloading. Set BRAINBENCH_DATA_DIR or --data-dir to a folder holding it."
        )
    errors = []
    for url in spec.urls:
        logger.info("downloading %s from %s", spec.filename, url)
        try:
            download(url, cached, spec.sha256)
            return cached
        except ChecksumError:
            raise
        except Exception as error:  # network errors: try the next copy, report all at the end
            errors.append(f"{url}: {error}")
    raise DatasetNotFoundError(f"{spec.name}: could not download {spec.filename}: " + "; ".join(errors))
