"""Build a training corpus from PubMed abstracts and PMC open-access full texts of chosen journals.

Two steps, both resumable:

``collect``   for each journal: esearch (date range, history server), then efetch in batches;
              documents are appended to ``raw/abstracts.jsonl`` / ``raw/full_texts.jsonl`` as they
              arrive and ``raw/progress.json`` records how far each search got, so a second run
              continues where the first stopped and skips PMIDs / PMCIDs it already holds.
``finalize``  deduplicate (same article and section, or the same text), drop every document whose
              DOI is in a test set (BrainBench's and any you name: tuning must not see the
              benchmark), split train/valid by article, and write JSONL shards and ``manifest.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from brainbench.data.corpus import MANIFEST_FILE, read_corpus
from brainbench.data.files import decode_utf8
from brainbench.errors import InputError
from brainbench.io import read_jsonl, write_json_atomic
from brainbench.pubmed import EUtilsClient, normalize_doi, parse_pmc, parse_pubmed

RAW_DIR = "raw"
RAW_FILES = {"abstract": "abstracts.jsonl", "full_text": "full_texts.jsonl"}
PROGRESS_FILE = "progress.json"
# What each section searches: database, filter, parser, the id that makes a record unique.
SOURCES = {
    "abstract": ("pubmed", "hasabstract", parse_pubmed, "pmid"),
    "full_text": ("pmc", '"open access"[filter]', parse_pmc, "pmcid"),
}


@dataclass(frozen=True)
class Journal:
    name: str
    abbreviation: str  # the NLM title abbreviation, PubMed's [ta] field
    issn: str

    @property
    def query(self) -> str:
        terms = [f'"{self.abbreviation}"[ta]'] + ([f'"{self.issn}"[is]'] if self.issn else [])
        return "(" + " OR ".join(terms) + ")"


def load_journals(path: Path | None = None) -> list[Journal]:
    """A journal list (CSV: name, abbreviation, issn); default: the neuroscience list shipped with brainbench."""
    if path is None:
        text = resources.files("brainbench.corpus").joinpath("journals.csv").read_text(encoding="utf-8")
        source = "brainbench/corpus/journals.csv"
    else:
        text, source = decode_utf8(Path(path).read_bytes(), str(path)), str(path)
    reader = csv.DictReader(text.splitlines())
    missing = {"name", "abbreviation"} - set(reader.fieldnames or [])
    if missing:
        raise InputError(
            source, 1, f"missing column(s) {', '.join(sorted(missing))}; expected name, abbreviation, issn"
        )
    journals = []
    for row in reader:
        name, abbreviation = (row.get("name") or "").strip(), (row.get("abbreviation") or "").strip()
        if not name or not abbreviation:
            raise InputError(
                source, reader.line_num, "'name' and 'abbreviation' (the NLM title abbreviation) are required"
            )
        journals.append(Journal(name, abbreviation, (row.get("issn") or "").strip()))
    if not journals:
        raise InputError(source, None, "no journals")
    return journals


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    # a line cut short by an interruption is skipped: its record is fetched again
    return read_jsonl(path, skip_damaged=True, missing_ok=True)


def collect(
    client: EUtilsClient,
    journals: Sequence[Journal],
    first_year: int,
    last_year: int,
    out_dir: Path,
    *,
    sections: Sequence[str] = ("abstract", "full_text"),
    batch_size: int = 200,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Fetch every section's documents of every journal published in [first_year, last_year]
    into ``out_dir/raw``; return how many documents each section holds now."""
    raw = Path(out_dir) / RAW_DIR
    raw.mkdir(parents=True, exist_ok=True)
    progress_path = raw / PROGRESS_FILE
    progress: dict[str, dict[str, int]] = json.loads(progress_path.read_text()) if progress_path.is_file() else {}
    held: dict[str, int] = {}
    for section in sections:
        db, search_filter, parse, id_field = SOURCES[section]
        path = raw / RAW_FILES[section]
        seen = {row[id_field] for row in _read_jsonl(path) if row.get(id_field)}
        with path.open("a", encoding="utf-8") as handle:
            for journal in journals:
                key = f"{section}|{journal.abbreviation}|{first_year}-{last_year}"
                state = progress.get(key, {})
                if state and state["next"] >= state["count"]:
                    continue  # done in an earlier run
                search = client.esearch(
                    db, f"{journal.query} AND {search_filter}", mindate=str(first_year), maxdate=str(last_year)
                )
                start = state.get("next", 0)
                while start < search.count:
                    for document in parse(client.efetch(db, search, start, batch_size)):
                        identifier = getattr(document, id_field)
                        if identifier and identifier in seen:
                            continue
                        seen.add(identifier)
                        handle.write(json.dumps(document.record()) + "\n")
                    handle.flush()
                    start = min(start + batch_size, search.count)
                    progress[key] = {"count": search.count, "next": start}
                    write_json_atomic(progress_path, progress)
                    if on_progress:
                        on_progress(f"{section}: {journal.name}", start, search.count)
                progress[key] = {"count": search.count, "next": search.count}
                write_json_atomic(progress_path, progress)
        held[section] = len(seen)
    return held


def _split_of(document: dict[str, Any], valid_fraction: float) -> str:
    """train or valid, decided by the article (so its abstract and full text land together)."""
    article = document.get("pmid") or document.get("pmcid") or document.get("doi") or document["text"]
    bucket = int(hashlib.sha256(str(article).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "valid" if bucket < valid_fraction else "train"


def finalize(
    out_dir: Path, exclude_dois: Iterable[str] = (), *, valid_fraction: float = 0.01, shard_size: int = 50_000
) -> dict[str, Any]:
    """Deduplicate, exclude test-set DOIs, split by article and write ``{train,valid}-NNNNN.jsonl``
    and ``manifest.json`` from ``out_dir/raw``; return the manifest."""
    out_dir = Path(out_dir)
    excluded = {normalize_doi(doi) for doi in exclude_dois} - {None}
    documents: dict[str, list[dict[str, Any]]] = {"train": [], "valid": []}
    seen_articles: set[tuple[str, str]] = set()
    seen_texts: set[str] = set()
    counts = {"raw": 0, "duplicates": 0, "excluded_test_set": 0}
    for section, filename in RAW_FILES.items():
        for document in _read_jsonl(out_dir / RAW_DIR / filename):
            counts["raw"] += 1
            article = (section, document.get("pmid") or document.get("pmcid") or document.get("doi") or "")
            text_hash = hashlib.sha256(" ".join(document["text"].split()).lower().encode()).hexdigest()
            if (article[1] and article in seen_articles) or text_hash in seen_texts:
                counts["duplicates"] += 1
                continue
            seen_articles.add(article)
            seen_texts.add(text_hash)
            if normalize_doi(document.get("doi")) in excluded:
                counts["excluded_test_set"] += 1
                continue
            documents[_split_of(document, valid_fraction)].append(document)
    for old in out_dir.glob("*-[0-9][0-9][0-9][0-9][0-9].jsonl"):
        old.unlink()
    files = {}
    for split, rows in documents.items():
        files[split] = []
        for number, start in enumerate(range(0, max(len(rows), 1), shard_size)):
            name = f"{split}-{number:05d}.jsonl"
            (out_dir / name).write_text(
                "".join(json.dumps(row) + "\n" for row in rows[start : start + shard_size]), encoding="utf-8"
            )
            files[split].append(name)
    manifest = {
        **counts,
        "documents": {split: len(rows) for split, rows in documents.items()},
        "by_section": {
            section: sum(row["section"] == section for rows in documents.values() for row in rows)
            for section in RAW_FILES
        },
        "valid_fraction": valid_fraction,
        "excluded_dois": len(excluded),
        "files": files,
    }
    write_json_atomic(out_dir / MANIFEST_FILE, manifest)
    return manifest


def corpus_stats(corpus_dir: Path, count_tokens: Callable[[str], int] | None = None) -> dict[str, Any]:
    """Documents and tokens (``count_tokens``, else whitespace words) per split, section, journal and year."""
    import pandas as pd

    frames = []
    for split in ("train", "valid"):
        rows = read_corpus(corpus_dir, split)
        frame = pd.DataFrame(rows, columns=["journal", "year", "section", "text"])
        frame["split"] = split
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    counter = count_tokens or (lambda text: len(text.split()))
    table["tokens"] = [counter(text) for text in table["text"]]
    unit = "tokens" if count_tokens else "words"

    def summary(by: str) -> pd.DataFrame:
        return table.groupby(by, dropna=False).agg(documents=("text", "size"), **{unit: ("tokens", "sum")})

    return {
        "unit": unit,
        "total": {"documents": len(table), unit: int(table["tokens"].sum())},
        "by_split": summary("split"),
        "by_section": summary("section"),
        "by_journal": summary("journal"),
        "by_year": summary("year"),
    }
