"""``brainbench corpus build|stats``: a training corpus from PubMed and PMC for fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from brainbench.cli.analysis import print_frame
from brainbench.cli.app import app, handle_errors, progress_bar, stderr, stdout
from brainbench.cli.options import DataDirOption, JsonOption
from brainbench.corpus import collect, corpus_stats, finalize, load_journals
from brainbench.data import DATASETS, load_dataset
from brainbench.data.files import read_records
from brainbench.errors import InputError
from brainbench.pubmed import EUTILS_URL, EUtilsClient
from brainbench.settings import load_settings

corpus_app = typer.Typer(
    help="Build a training corpus (PubMed abstracts, PMC open-access full texts) and describe it.", no_args_is_help=True
)
app.add_typer(corpus_app, name="corpus", rich_help_panel="Training")


def read_dois(path: Path) -> list[str]:
    """The 'doi' field of a CSV or JSONL file (a BrainBench test-case file, or any list of DOIs)."""
    return [row["doi"] for _, row in read_records(path, required="doi")]


@corpus_app.command("build")
def build_command(
    out: Path = typer.Option(..., "--out", "-o", help="Corpus folder (created; an interrupted build resumes in it)."),
    journals: Path | None = typer.Option(
        None, "--journals", help="CSV of journals (name, abbreviation, issn); default: brainbench's neuroscience list."
    ),
    first_year: int = typer.Option(2002, "--from", help="First publication year (the paper's: 2002)."),
    last_year: int = typer.Option(2022, "--to", help="Last publication year (the paper's: 2022)."),
    full_text: bool = typer.Option(True, "--full-text/--abstracts-only", help="Also fetch PMC open-access full texts."),
    exclude: list[Path] = typer.Option(
        [],
        "--exclude",
        help="A test-case file (or any CSV/JSONL with a 'doi' column) whose DOIs must not enter the corpus. "
        "Repeatable; BrainBench's own sets are always excluded.",
    ),
    valid_fraction: float = typer.Option(
        0.01, "--valid-fraction", min=0.0, max=0.5, help="Share of articles in the validation split."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="NCBI_API_KEY", help="NCBI API key (or NCBI_API_KEY): 10 requests/s instead of 3."
    ),
    email: str | None = typer.Option(
        None, "--email", envvar="NCBI_EMAIL", help="Your e-mail, which NCBI asks tools to send."
    ),
    batch_size: int = typer.Option(200, "--batch-size", min=1, max=10_000, help="Records per efetch request."),
    eutils_url: str = typer.Option(
        EUTILS_URL, "--eutils-url", help="E-utilities base URL (a mirror or a test server)."
    ),
    data_dir: DataDirOption = None,
) -> None:
    """Fetch abstracts and full texts of the journals' articles, then deduplicate, exclude test sets and split."""
    with handle_errors():
        if first_year > last_year:
            raise InputError("--from", None, f"{first_year} is after --to {last_year}")
        settings = load_settings(data_dir=data_dir)
        chosen = load_journals(journals)
        test_dois = [
            case.doi
            for name in DATASETS
            for case in load_dataset(
                name, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline
            ).cases
        ]
        test_dois += [doi for path in exclude for doi in read_dois(path)]
        client = EUtilsClient(eutils_url, api_key=api_key, email=email)
        stderr.print(
            f"{len(chosen)} journals, {first_year}-{last_year}, "
            f"{'abstracts and full texts' if full_text else 'abstracts'} -> {out}",
            highlight=False,
        )
        progress = progress_bar("records")
        with progress:
            task = progress.add_task("searching", total=None)
            held = collect(
                client,
                chosen,
                first_year,
                last_year,
                out,
                sections=("abstract", "full_text") if full_text else ("abstract",),
                batch_size=batch_size,
                on_progress=lambda what, done, total: progress.update(
                    task, description=what, completed=done, total=total
                ),
            )
        manifest = finalize(out, test_dois, valid_fraction=valid_fraction)
    stdout.print(
        f"{held.get('abstract', 0)} abstracts, {held.get('full_text', 0)} full texts fetched ({client.requests_made} "
        "requests); "
        f"{manifest['duplicates']} duplicates and {manifest['excluded_test_set']} test-set articles dropped; "
        f"train {manifest['documents']['train']}, valid {manifest['documents']['valid']} documents in {out}",
        highlight=False,
    )


@corpus_app.command("stats")
def stats_command(
    corpus: Path = typer.Argument(..., help="A corpus folder from `brainbench corpus build`."),
    tokenizer: str | None = typer.Option(
        None,
        "--tokenizer",
        help="Count tokens with this model's tokenizer (a Hugging Face id or folder; 'embedded' for SmolLM2); default: "
        "words.",
    ),
    as_json: JsonOption = False,
) -> None:
    """Documents and tokens per split, section, journal and year."""
    with handle_errors():
        count = None
        if tokenizer is not None:
            from brainbench.scoring.hf import load_tokenizer

            encoder = load_tokenizer(None if tokenizer == "embedded" else tokenizer)
            count = lambda text: len(encoder(text)["input_ids"])  # noqa: E731
        stats = corpus_stats(corpus, count)
    if as_json:
        stdout.print_json(
            json.dumps(
                {
                    key: json.loads(value.to_json(orient="index")) if hasattr(value, "to_json") else value
                    for key, value in stats.items()
                }
            )
        )
        return
    unit = stats["unit"]
    stdout.print(f"{stats['total']['documents']} documents, {stats['total'][unit]} {unit}", highlight=False)
    for key, title in (
        ("by_split", "By split"),
        ("by_section", "By section"),
        ("by_journal", "By journal"),
        ("by_year", "By year"),
    ):
        print_frame(stats[key], title)
