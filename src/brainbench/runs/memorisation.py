"""Score the texts of the memorisation checks and keep them beside the run (``memorisation.jsonl``).

The texts: each test case's original and altered prompt (template included, as scored), the
Gettysburg Address (the positive control) and any reference corpora, these two without a
template as the paper scored them. Each text's raw scores (its token log-probabilities, their
next-token distributions' mean and spread, its byte and zlib sizes) are appended as soon as it is
done, with the scorer's key: starting again skips what is there. The memorisation scores (Min-K%,
Min-K%++, the zlib ratio) are derived from them when they are read (``brainbench.analysis.memorisation``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from brainbench.data import TestCase
from brainbench.data.files import read_records
from brainbench.errors import BrainbenchError, InputError
from brainbench.io import read_jsonl, write_jsonl_atomic
from brainbench.runs.store import json_key, text_key
from brainbench.scoring import Scorer, Template

MEMORISATION_FILE = "memorisation.jsonl"


def read_reference_corpus(path: Path) -> dict[str, list[str]]:
    """Texts of a reference corpus: a JSONL or CSV file with a ``text`` field and an optional ``label``
    (e.g. before-cutoff / after-cutoff; default: the file's name), grouped by label."""
    corpus: dict[str, list[str]] = {}
    for _, row in read_records(path, required="text"):
        corpus.setdefault(row.get("label") or Path(path).stem, []).append(row["text"])
    if not corpus:
        raise InputError(path, None, "no texts")
    return corpus


def memorisation_texts(
    cases: Sequence[TestCase],
    template: Template,
    gettysburg: str,
    references: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per text to score: kind (original, altered, control, reference), label, item_id, doi, text."""
    rows: list[dict[str, Any]] = []
    for case in cases:
        for kind, text in (("original", case.original), ("altered", case.altered)):
            rows.append(
                {"kind": kind, "label": "item", "item_id": case.item_id, "doi": case.doi, "text": template.apply(text)}
            )
    rows.append({"kind": "control", "label": "gettysburg", "item_id": None, "doi": None, "text": gettysburg})
    for label, texts in (references or {}).items():
        rows.extend(
            {"kind": "reference", "label": label, "item_id": index, "doi": None, "text": text}
            for index, text in enumerate(texts)
        )
    return rows


def score_memorisation(
    scorer: Scorer,
    texts: Sequence[dict[str, Any]],
    out_file: Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every text (``memorisation_texts``) into ``out_file`` and return the raw table: one row per text
    with its fields, its token log-probabilities and, where the backend has ``token_statistics``, the mean
    and spread of each next-token distribution (for Min-K%++), its UTF-8 and zlib-compressed sizes, or an
    error. ``brainbench.analysis.memorisation.memorisation_scores`` derives the scores from it."""
    scorer_key = json_key(scorer.fingerprint())
    out_file = Path(out_file)
    done = {
        (row["kind"], row["text_sha256"]): row
        for row in _read_rows(out_file)
        if row.get("scorer_key") == scorer_key and "token_logprobs" in row
    }
    rows = []
    with out_file.open("a", encoding="utf-8") as handle:
        for position, entry in enumerate(texts):
            sha = text_key(entry["text"])
            row = done.get((entry["kind"], sha))
            if row is None:
                row = {key: value for key, value in entry.items() if key != "text"} | {
                    "text_sha256": sha,
                    "scorer_key": scorer_key,
                    "n_bytes": len(entry["text"].encode("utf-8")),
                    "zlib": zlib_entropy(entry["text"]),
                }
                try:
                    statistics = scorer.token_statistics([entry["text"]])
                    if statistics is not None:
                        statistics = statistics[0]
                        row |= {
                            "token_logprobs": list(statistics.token_logprobs),
                            "token_means": list(statistics.token_means),
                            "token_stds": list(statistics.token_stds),
                        }
                    else:
                        row |= {
                            "token_logprobs": list(scorer.score_texts([entry["text"]])[0].token_logprobs),
                            "token_means": None,
                            "token_stds": None,
                        }
                except BrainbenchError as error:
                    row["error"] = str(error)
                handle.write(json.dumps(row) + "\n")
                handle.flush()
            rows.append(row)
            if on_progress:
                on_progress(position + 1, len(texts))
    return pd.DataFrame(rows).drop(columns=["scorer_key", "text_sha256"])


def zlib_entropy(text: str) -> int:
    """Bytes of the zlib-compressed UTF-8 text (the paper's and Carlini et al.'s zlib entropy)."""
    return len(zlib.compress(text.encode("utf-8")))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    # a line cut short by an interruption is skipped: scored again
    return read_jsonl(path, skip_damaged=True, missing_ok=True)


def read_memorisation(run_dir: Path) -> pd.DataFrame | None:
    """The raw memorisation table of a run directory (the latest scorer's rows), or None if it has none."""
    rows = [
        row
        for row in _read_rows(Path(run_dir) / MEMORISATION_FILE)
        if "token_logprobs" in row or "ppl" in row or "error" in row  # ppl alone: imported from published arrays
    ]
    if not rows:
        return None
    table = pd.DataFrame(rows)
    latest = table[table["scorer_key"] == rows[-1]["scorer_key"]]
    return (
        latest.drop_duplicates(["kind", "text_sha256"], keep="last")
        .drop(columns=["scorer_key", "text_sha256"])
        .reset_index(drop=True)
    )


def write_memorisation(run_dir: Path, rows: Sequence[dict[str, Any]], replace_labels: bool = False) -> Path:
    """Write memorisation rows (e.g. ``published_memorisation_rows``) into a run directory. ``replace_labels``: keep
    the rows already there except those of the same kind and label (a reference corpus added to an imported run)."""
    path = Path(run_dir) / MEMORISATION_FILE
    kept = []
    if replace_labels:
        new = {(row["kind"], row["label"]) for row in rows}
        kept = [row for row in _read_rows(path) if (row.get("kind"), row.get("label")) not in new]
    write_jsonl_atomic(path, [*kept, *rows])
    return path
