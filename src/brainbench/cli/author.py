"""``brainbench fetch-abstracts``, ``brainbench author ...`` and ``brainbench dataset build``: make new test cases."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from brainbench.cli.app import app, handle_errors, progress_bar, stderr, stdout
from brainbench.data.files import read_records
from brainbench.errors import InputError
from brainbench.io import check_output_path
from brainbench.pubmed import EUTILS_URL

author_app = typer.Typer(
    help="Write or propose alterations of candidate abstracts, and review them.", no_args_is_help=True
)
dataset_app = typer.Typer(help="Build versioned test sets from the review queue.", no_args_is_help=True)
app.add_typer(author_app, name="author", rich_help_panel="New test cases")
app.add_typer(dataset_app, name="dataset", rich_help_panel="New test cases")
TOKEN_ENV = "BRAINBENCH_AUTHOR_TOKEN"


REFERENCE_HELP = "Model for the perplexity-gap check ('embedded', a transformers id or path; 'none' to skip)."


def read_candidates(path: Path) -> list[dict[str, Any]]:
    """Candidate abstracts (JSONL or CSV with 'text' and optional doi, journal, subfield), in NFC with whitespace
    normalised."""
    from brainbench.authoring.edits import normalise_text

    return [{**row, "text": normalise_text(row["text"])} for _, row in read_records(path, required="text")]


def reference_model(name: str | None) -> Any:
    """The reference model named on the command line (None for 'none'), loaded on the CPU."""
    from brainbench.authoring.edits import load_reference_model

    if not name or name == "none":
        return None
    stderr.print(f"loading the reference model ({name}) for the perplexity-gap check", highlight=False)
    return load_reference_model(name)


ChatUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="An OpenAI-compatible chat endpoint; without it, a local transformers model."),
]
ChatModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="The chat model (default: the server's only one, or the embedded model)."),
]


@app.command("fetch-abstracts", rich_help_panel="New test cases")
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
    base_url: ChatUrlOption = None,
    model: ChatModelOption = None,
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY"),
    reference: str | None = typer.Option("embedded", "--reference-model", help=REFERENCE_HELP),
    limit: int | None = typer.Option(None, "--limit", min=1),
) -> None:
    """Ask an instruction model for an alteration of each candidate; check each and queue it for review."""
    from brainbench.authoring import OpenAIChat, ReviewQueue, TransformersChat, check_alteration, propose_alteration
    from brainbench.authoring.edits import normalise_text
    from brainbench.authoring.propose import PROMPT
    from brainbench.authoring.queue import check_record

    with handle_errors():
        items = read_candidates(candidates)[:limit]
        review = ReviewQueue(queue)
        chat = OpenAIChat(base_url, model, api_key=api_key) if base_url else TransformersChat(model)
        checker = reference_model(reference)
        provenance = {**chat.describe(), "prompt": PROMPT}
        kept = 0
        with progress_bar("abstracts") as progress:
            for candidate in progress.track(items, description="proposing"):
                altered = normalise_text(propose_alteration(chat, candidate["text"]))
                record = None if checker is None else check_record(candidate["text"], altered, checker)
                reasons = check_alteration(candidate["text"], altered) if record is None else record["reasons"]
                item_id = review.add(candidate, altered, provenance, reasons, checks=record)
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
    base_url: ChatUrlOption = None,
    model: ChatModelOption = None,
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY"),
    limit: int | None = typer.Option(None, "--limit", min=1),
) -> None:
    """Ask an instruction model for a graded case of each candidate (a number that states a result and a grid of
    values for it); check each and queue it for review."""
    from brainbench.authoring import OpenAIChat, ReviewQueue, TransformersChat
    from brainbench.authoring.graded import GRADED_PROMPT, propose_grid

    with handle_errors():
        items = read_candidates(candidates)[:limit]
        review = ReviewQueue(queue)
        chat = OpenAIChat(base_url, model, api_key=api_key) if base_url else TransformersChat(model)
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
    decision: Annotated[str, typer.Argument(help="accept, reject, or edit (save --altered without deciding)")],
    queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite"),
    altered: Annotated[
        str | None,
        typer.Option("--altered", help="The edited alteration (it must pass the checks): with accept or edit."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (needed to change an earlier decision).")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who decides, recorded with the decision (default: your user name).")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference-model", help=REFERENCE_HELP + " Default: check later.")
    ] = "none",
    allow_self_acceptance: Annotated[
        bool,
        typer.Option("--allow-self-acceptance", help="Let the writer or an editor of an item accept it."),
    ] = False,
) -> None:
    """Accept (optionally edited), reject or edit a queued item; the decision is recorded (who, when, from, to,
    note). Under the two-person rule (the default) nobody accepts an item they wrote or edited."""
    from brainbench.authoring import ReviewQueue

    statuses = {"accept": "accepted", "reject": "rejected", "edit": "proposed"}
    with handle_errors():
        if decision not in statuses:
            raise InputError("decision", None, f"{decision!r}: accept, reject or edit")
        item = ReviewQueue(queue).review(
            item_id,
            statuses[decision],
            reviewer=by or _user_name(),
            altered=altered,
            note=note,
            reference=reference_model(reference),
            two_person_rule=not allow_self_acceptance,
        )
    stdout.print(f"#{item_id}: {item['status']}" + (" (edited)" if decision == "edit" else ""), highlight=False)


@author_app.command("add-reviewer")
def add_reviewer_command(
    name: Annotated[str, typer.Argument(help="The reviewer's name, recorded with each of their decisions.")],
    queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite"),
) -> None:
    """Make a reviewer's own sign-in token for the authoring page (printed once; run again for a new token,
    which ends the old one)."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        token = ReviewQueue(queue).add_reviewer(name)
    stderr.print(f"the token of {name.strip()}, shown only now: give it to them alone", highlight=False)
    stdout.print(token, highlight=False)


@author_app.command("remove-reviewer")
def remove_reviewer_command(
    name: Annotated[str, typer.Argument()], queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite")
) -> None:
    """End a reviewer's token and sessions (their decisions stay recorded)."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        ReviewQueue(queue).remove_reviewer(name)
    stdout.print(f"{name}: removed", highlight=False)


@author_app.command("reviewers")
def reviewers_command(queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite")) -> None:
    """List the reviewers (names and when their token was made)."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        found = ReviewQueue(queue).reviewers()
    table = Table(title=f"reviewers of {queue}")
    for column in ("name", "since"):
        table.add_column(column)
    for reviewer in found:
        table.add_row(reviewer["name"], reviewer["created_at"])
    stdout.print(table)


@author_app.command("check")
def check_command(
    queue: Annotated[Path, typer.Option("--queue")] = Path("review.sqlite"),
    reference: Annotated[str, typer.Option("--reference-model", help=REFERENCE_HELP)] = "embedded",
) -> None:
    """Check every proposed and accepted alteration not yet checked under the reference model (the perplexity
    gap among them) and record the result with the item: only items that passed enter a test set."""
    from brainbench.authoring import ReviewQueue

    with handle_errors():
        review = ReviewQueue(queue)
        checker = reference_model(reference)
        if checker is None:
            raise InputError("--reference-model", None, "checking needs a reference model")
        with progress_bar("items") as progress:
            task = progress.add_task("checking", total=None)
            done = review.check(checker, on_progress=lambda n, total: progress.update(task, completed=n, total=total))
    for item_id, record in done:
        outcome = "passed" if record["passed"] else "failed: " + "; ".join(record["reasons"])
        stdout.print(f"#{item_id}: {outcome}", highlight=False)
    stdout.print(f"{len(done)} items checked under {checker.name}", highlight=False)


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
            help="The reverse proxies whose X-Forwarded-For/-Proto to trust (comma-separated IPs, e.g. 127.0.0.1 "
            "for a proxy on this machine); without it those headers are ignored.",
        ),
    ] = None,
    reference: Annotated[str, typer.Option("--reference-model", help=REFERENCE_HELP)] = "embedded",
    allow_self_acceptance: Annotated[
        bool,
        typer.Option("--allow-self-acceptance", help="Let the writer or an editor of an item accept it."),
    ] = False,
) -> None:
    """The authoring page: write alterations in the browser and review the queue. Each reviewer signs in with their
    own token (brainbench author add-reviewer NAME)."""
    import uvicorn

    from brainbench.authoring import ReviewQueue
    from brainbench.authoring.app import create_app

    with handle_errors():
        shared = os.environ.get(TOKEN_ENV)
        if shared is not None and not shared.strip():
            raise InputError(TOKEN_ENV, None, "is set but empty: unset it (each reviewer has their own token now)")
        review = ReviewQueue(queue)
        if not review.reviewers():
            raise InputError(
                review.display_url,
                None,
                "no reviewers yet: make each one a token with brainbench author add-reviewer NAME",
            )
        if shared is not None:
            stderr.print(
                f"[yellow]warning:[/yellow] {TOKEN_ENV} is ignored: each reviewer signs in with their own token "
                "(brainbench author add-reviewer NAME)",
                highlight=False,
            )
        listed = read_candidates(candidates) if candidates else []
        checker = reference_model(reference)
        stderr.print(
            f"authoring {len(listed)} candidates, queue {review.display_url}: http://{host}:{port}/", highlight=False
        )
    application = create_app(
        review,
        listed,
        subfields=subfields or (),
        secure_cookies=secure_cookies,
        reference=checker,
        two_person_rule=not allow_self_acceptance,
    )
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(forwarded_allow_ips),  # X-Forwarded-For only from proxies named: else anyone picks an IP
        **({"forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}),
    )


@dataset_app.command("build")
def build_command(
    name: str = typer.Option(..., "--name", help="A plain file name: letters, digits, '.', '_', '-'."),
    version: str = typer.Option(..., "--version"),
    queue: Path = typer.Option(Path("review.sqlite"), "--queue"),
    out: Path = typer.Option(Path("datasets"), "--out", "-o"),
    reference: str = typer.Option(
        "embedded",
        "--reference-model",
        help=REFERENCE_HELP + " Accepted items not yet checked under it are checked first; with 'none' they are "
        "refused.",
    ),
    allow_self_acceptance: bool = typer.Option(
        False, "--allow-self-acceptance", help="Take items accepted by their own writer or editor too."
    ),
) -> None:
    """Write the accepted items that pass every check as a versioned test set (CSV in BrainBench's columns + a
    manifest); list those refused and why."""
    from brainbench.authoring import ReviewQueue, build_dataset
    from brainbench.authoring.queue import current_check

    with handle_errors():
        check_output_path(out, "folder")
        review = ReviewQueue(queue)
        unchecked = [item for item in review.items("accepted") if item["grid"] is None and current_check(item) is None]
        checker = reference_model(reference) if unchecked else None
        if checker is not None:
            review.check(checker, statuses=("accepted",))
        path = build_dataset(review, name, version, out, two_person_rule=not allow_self_acceptance)
        manifest = json.loads((path.parent / f"{name}-v{version}.manifest.json").read_text(encoding="utf-8"))
    for refused in manifest["refused"]:
        stderr.print(
            f"[yellow]refused[/yellow] #{refused['queue_id']} {escape(refused['doi'] or '')}: "
            + escape("; ".join(refused["reasons"])),
            highlight=False,
        )
    stdout.print(
        f"test set: {path} ({manifest['n_items']} items, {manifest['n_graded']} graded; {len(manifest['refused'])} "
        f"refused; manifest beside it); score it with: brainbench run --dataset {path}",
        highlight=False,
    )
