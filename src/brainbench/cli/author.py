"""``brainbench fetch-abstracts``, ``brainbench author ...`` and ``brainbench dataset build``: make new test cases."""

from __future__ import annotations

import getpass
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brainbench.cli.app import app, handle_errors, progress_bar, stderr, stdout
from brainbench.data.files import read_records
from brainbench.errors import InputError
from brainbench.pubmed import EUTILS_URL

author_app = typer.Typer(
    help="Write or propose alterations of candidate abstracts, and review them.", no_args_is_help=True
)
dataset_app = typer.Typer(help="Build versioned test sets from the review queue.", no_args_is_help=True)
app.add_typer(author_app, name="author")
app.add_typer(dataset_app, name="dataset")
TOKEN_ENV = "BRAINBENCH_AUTHOR_TOKEN"


def read_candidates(path: Path) -> list[dict[str, Any]]:
    """Candidate abstracts (JSONL or CSV with 'text' and optional doi, journal, subfield), whitespace normalised."""
    return [{**row, "text": " ".join(row["text"].split())} for _, row in read_records(path, required="text")]


@app.command("fetch-abstracts")
def fetch_command(
    query: str = typer.Option(..., "--query", "-q", help="A PubMed query, e.g. '\"J Neurosci\"[ta]'."),
    since: str = typer.Option(..., "--since", help="First publication date, YYYY/MM/DD (after your model's cut-off)."),
    until: str | None = typer.Option(None, "--until", help="Last publication date, YYYY/MM/DD."),
    out: Path = typer.Option(..., "--out", "-o", help="Candidates file (JSONL)."),
    limit: int = typer.Option(100, "--limit", min=1),
    subfield: str = typer.Option("", "--subfield", help="The subfield to record for these candidates."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="NCBI_API_KEY"),
    eutils_url: str = typer.Option(
        EUTILS_URL, "--eutils-url", help="E-utilities base URL (a mirror or a test server)."
    ),
) -> None:
    """Recent abstracts from PubMed as candidate test cases (doi, pmid, journal, year, subfield, text)."""
    from brainbench.authoring import fetch_abstracts
    from brainbench.pubmed import EUtilsClient

    with handle_errors():
        candidates = fetch_abstracts(EUtilsClient(eutils_url, api_key=api_key), query, since, until, limit, subfield)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(candidate) + "\n" for candidate in candidates), encoding="utf-8")
    stdout.print(f"{len(candidates)} candidate abstracts -> {out}", highlight=False)


@author_app.command("propose")
def propose_command(
    candidates: Path = typer.Argument(..., help="Candidates (JSONL) from fetch-abstracts or your own."),
    queue: Path = typer.Option(
        Path("review.sqlite"), "--queue", help="The review queue (SQLite file or database URL)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="An OpenAI-compatible chat endpoint; without it, a local transformers model."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="The chat model (default: the server's only one, or the embedded model)."
    ),
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY"),
    reference: str | None = typer.Option(
        "embedded",
        "--reference-model",
        help="Model for the perplexity-gap check ('embedded', an id or path; 'none' to skip).",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1),
) -> None:
    """Ask an instruction model for an alteration of each candidate; check each and queue it for review."""
    from brainbench.authoring import OpenAIChat, ReviewQueue, TransformersChat, check_alteration, propose_alteration
    from brainbench.authoring.propose import PROMPT

    with handle_errors():
        items = read_candidates(candidates)[:limit]
        chat = OpenAIChat(base_url, model, api_key=api_key) if base_url else TransformersChat(model)
        log_ppl = None
        if reference and reference != "none":
            import math

            from brainbench.scoring import load_scorer

            scorer = load_scorer(
                "transformers", model=None if reference == "embedded" else reference, dtype="float32", device="cpu"
            )
            log_ppl = lambda text: math.log(scorer.score_texts([text])[0].ppl)  # noqa: E731
        review = ReviewQueue(queue)
        provenance = {**chat.describe(), "prompt": PROMPT}
        kept = 0
        with progress_bar("abstracts") as progress:
            for candidate in progress.track(items, description="proposing"):
                altered = " ".join(propose_alteration(chat, candidate["text"]).split())
                reasons = check_alteration(candidate["text"], altered, log_ppl)
                item_id = review.add(candidate, altered, provenance, reasons)
                kept += not reasons
                progress.console.print(
                    f"#{item_id} {candidate.get('doi') or ''}: "
                    + ("proposed" if not reasons else "rejected: " + "; ".join(reasons)),
                    highlight=False,
                )
    stdout.print(f"{kept} of {len(items)} proposals passed the checks and wait for review in {queue}", highlight=False)


@author_app.command("propose-graded")
def propose_graded_command(
    candidates: Path = typer.Argument(..., help="Candidates (JSONL) from fetch-abstracts or your own."),
    queue: Path = typer.Option(
        Path("review.sqlite"), "--queue", help="The review queue (SQLite file or database URL)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="An OpenAI-compatible chat endpoint; without it, a local transformers model."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="The chat model (default: the server's only one, or the embedded model)."
    ),
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY"),
    limit: int | None = typer.Option(None, "--limit", min=1),
) -> None:
    """Ask an instruction model for a graded case of each candidate (a number that states a result and a grid of
    values for it); check each and queue it for review."""
    from brainbench.authoring import OpenAIChat, ReviewQueue, TransformersChat
    from brainbench.authoring.graded import GRADED_PROMPT, propose_grid

    with handle_errors():
        items = read_candidates(candidates)[:limit]
        chat = OpenAIChat(base_url, model, api_key=api_key) if base_url else TransformersChat(model)
        review = ReviewQueue(queue)
        provenance = {**chat.describe(), "prompt": GRADED_PROMPT}
        kept = 0
        with progress_bar("abstracts") as progress:
            for candidate in progress.track(items, description="proposing"):
                number, values = propose_grid(chat, candidate["text"])
                item_id = review.add_graded(candidate, number, values, "", provenance)
                item = review.item(item_id)
                kept += item["status"] == "proposed"
                progress.console.print(
                    f"#{item_id} {candidate.get('doi') or ''}: {number!r} in {values}: "
                    + ("proposed" if item["status"] == "proposed" else "rejected: " + "; ".join(item["reasons"])),
                    highlight=False,
                )
    stdout.print(
        f"{kept} of {len(items)} graded proposals passed the checks and wait for review in {queue}", highlight=False
    )


@author_app.command("queue")
def queue_command(
    queue: Path = typer.Option(Path("review.sqlite"), "--queue"), status: str | None = typer.Option(None, "--status")
) -> None:
    """List the review queue."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        items = ReviewQueue(queue).items(status)
    table = Table(title=f"review queue {queue}")
    for column in ("id", "status", "doi", "by", "edits / reasons"):
        table.add_column(column)
    for item in items:
        by = item["provenance"].get("author") or item["provenance"].get("model", "")
        table.add_row(
            str(item["id"]),
            item["status"],
            item["doi"] or "",
            by,
            "; ".join(item["reasons"]) or (item["combined"] or "")[:120],
        )
    stdout.print(table)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name here (a container without a passwd entry)
        raise InputError("--by", None, "who decides? give your name with --by NAME") from None


@author_app.command("review")
def review_command(
    item_id: Annotated[int, typer.Argument()],
    decision: Annotated[str, typer.Argument(help="accept or reject")],
    queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite"),
    altered: Annotated[
        str | None, typer.Option("--altered", help="Accept this edited alteration instead (it must pass the checks).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (needed to change an earlier decision).")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who decides, recorded with the decision (default: your user name).")
    ] = None,
) -> None:
    """Accept (optionally edited) or reject a queued item; the decision is recorded (who, when, from, to, note)."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        if decision not in ("accept", "reject"):
            raise InputError("decision", None, f"{decision!r}: accept or reject")
        item = ReviewQueue(queue).review(
            item_id, decision + "ed", reviewer=by or _user_name(), altered=altered, note=note
        )
    stdout.print(f"#{item_id}: {item['status']}", highlight=False)


@author_app.command("serve")
def serve_command(
    queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite"),
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="Candidates (JSONL) to write alterations for.")
    ] = None,
    subfields: Annotated[
        list[str] | None,
        typer.Option(
            "--subfield",
            help="A subfield of the test set (repeatable); the candidates' and the queue's are offered too.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p")] = 8001,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Send cookies over HTTPS only (behind an HTTPS reverse proxy).")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="The reverse proxies whose X-Forwarded-For/-Proto "
            "to trust (comma-separated IPs; default: 127.0.0.1,::1, a proxy on this machine).",
        ),
    ] = None,
) -> None:
    """The authoring page: write alterations in the browser and review the queue. Token: BRAINBENCH_AUTHOR_TOKEN, else
    printed once."""
    import uvicorn

    from brainbench.authoring import ReviewQueue
    from brainbench.authoring.app import create_app

    with handle_errors():
        review = ReviewQueue(queue)
        listed = read_candidates(candidates) if candidates else []
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if TOKEN_ENV not in os.environ:
            stderr.print(f"authoring token (set {TOKEN_ENV} to choose one): {token}", highlight=False)
        stderr.print(
            f"authoring {len(listed)} candidates, queue {review.display_url}: http://{host}:{port}/", highlight=False
        )
    application = create_app(review, token, listed, subfields=subfields or (), secure_cookies=secure_cookies)
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        **({"forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}),
    )


@dataset_app.command("build")
def build_command(
    name: str = typer.Option(..., "--name"),
    version: str = typer.Option(..., "--version"),
    queue: Path = typer.Option(Path("review.sqlite"), "--queue"),
    out: Path = typer.Option(Path("datasets"), "--out", "-o"),
) -> None:
    """Write the accepted items as a versioned test set (CSV in BrainBench's columns + a manifest)."""
    from brainbench.authoring import ReviewQueue, build_dataset

    with handle_errors():
        path = build_dataset(ReviewQueue(queue), name, version, out)
    stdout.print(
        f"test set: {path} (manifest beside it); score it with: brainbench run --dataset {path}", highlight=False
    )
