"""Reading a finished training corpus (``brainbench corpus build`` writes it; ``brainbench finetune`` reads it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from brainbench.errors import InputError
from brainbench.io import iter_jsonl, read_text

MANIFEST_FILE = "manifest.json"


def corpus_files(corpus_dir: Path) -> dict[str, list[Path]]:
    """The files of each split of a finalized corpus, as its manifest lists them (read, not their documents)."""
    corpus_dir = Path(corpus_dir)
    manifest_path = corpus_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(
            corpus_dir, None, f"no {MANIFEST_FILE}: not a finished corpus (brainbench corpus build writes one)"
        )
    try:
        manifest = json.loads(read_text(manifest_path, MANIFEST_FILE))
    except json.JSONDecodeError as error:
        raise InputError(manifest_path, error.lineno, f"not valid JSON ({error.msg})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise InputError(manifest_path, None, "no 'files' listing the splits: not a corpus manifest")
    return {split: [corpus_dir / name for name in names] for split, names in files.items()}


def read_corpus(corpus_dir: Path, split: str) -> list[dict[str, Any]]:
    """The documents of one split (train or valid) of a finalized corpus."""
    rows = []
    for path in corpus_files(corpus_dir).get(split, []):
        for number, row in iter_jsonl(path):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise InputError(path, number, "expected an object with a 'text' field")
            rows.append(row)
    return rows
