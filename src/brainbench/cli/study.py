"""``brainbench study serve`` and ``brainbench study consent-template``: run the human-expert study web app."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from brainbench.cli.app import app, handle_errors, stderr, stdout
from brainbench.cli.options import DataDirOption
from brainbench.data import load_dataset
from brainbench.settings import load_settings

study_app = typer.Typer(help="Run the human-expert study (the paper's experiment) as a web app.", no_args_is_help=True)
app.add_typer(study_app, name="study", rich_help_panel="Human study")
ADMIN_TOKEN_ENV = "BRAINBENCH_ADMIN_TOKEN"


@study_app.command("serve")
def serve_command(
    db: Annotated[
        str, typer.Option("--db", help="Database: a SQLite file or a URL (postgresql+psycopg://...).")
    ] = "study.sqlite",
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="The test set the participants see.")
    ] = "brainbench-human",
    texts: Annotated[
        str, typer.Option("--texts", help="released or reparsed texts (see brainbench run).")
    ] = "released",
    trials: Annotated[
        int,
        typer.Option("--trials", min=1, help="Trials per participant (the paper's: 9); changeable on the admin page."),
    ] = 9,
    consent: Annotated[
        Path | None,
        typer.Option(
            "--consent",
            help="The consent text (Markdown): the study's duration, investigator, "
            "contact, ethics approval. Start from `brainbench study consent-template`.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p")] = 8000,
    title: Annotated[str, typer.Option("--title", help="Shown on every page.")] = "Predict the result",
    catch: Annotated[
        Path | None,
        typer.Option(
            "--catch",
            help="Test cases with obvious answers (same format as a dataset): one per participant, at a random "
            "position, to screen attention.",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool,
        typer.Option("--secure-cookies", help="Send cookies over HTTPS only (serving behind an HTTPS reverse proxy)."),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="The reverse proxies whose X-Forwarded-For/-Proto to trust (comma-separated IPs, e.g. 127.0.0.1 "
            "for a proxy on this machine); without it those headers are ignored.",
        ),
    ] = None,
    hold_minutes: Annotated[
        float,
        typer.Option(
            "--hold-minutes",
            min=0.5,
            help="A trial on screen keeps its item this long after the participant's last sign of life; then a "
            "participant who left gives it back.",
        ),
    ] = 15.0,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the study. The admin token comes from BRAINBENCH_ADMIN_TOKEN, else one is made and printed once."""
    import uvicorn

    from brainbench.study import StudyStore, create_app
    from brainbench.study.templates import FILL_IN, load_consent
    from brainbench.web import weak_secret

    with handle_errors():
        consent_text = load_consent(consent) if consent is not None else None
        settings = load_settings(data_dir=data_dir)
        cases = load_dataset(
            dataset, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline, texts=texts
        )  # type: ignore[arg-type]
        catch_cases = load_dataset(catch, texts=texts) if catch is not None else None  # type: ignore[arg-type]
        store = StudyStore(db, cases, trials_per_participant=trials, catch=catch_cases, hold_s=60 * hold_minutes)
        token = os.environ.get(ADMIN_TOKEN_ENV)
        if not token:
            token = secrets.token_urlsafe(24)
            stderr.print(f"admin token (set {ADMIN_TOKEN_ENV} to choose one): {token}", highlight=False)
        weak = weak_secret(token)
        if weak:
            stderr.print(f"[yellow]warning:[/yellow] the admin token is weak: {weak}", highlight=False)
        if consent_text is None:
            stderr.print(
                "[yellow]warning:[/yellow] participants see the default consent text; give yours with --consent FILE",
                highlight=False,
            )
        elif FILL_IN in consent_text:
            stderr.print(
                f"[yellow]warning:[/yellow] {consent} still holds '{FILL_IN} …]' parts: participants see them "
                "as they are",
                highlight=False,
            )
        stderr.print(
            f"study of {cases.name} ({len(cases.cases)} items) in {store.display_url}: http://{host}:{port}/  admin: http://{host}:{port}/admin",
            highlight=False,
        )
    application = create_app(store, token, title, consent=consent_text, secure_cookies=secure_cookies)
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(forwarded_allow_ips),  # X-Forwarded-For only from proxies named: else anyone picks an IP
        **({"forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}),
    )


@study_app.command("consent-template")
def consent_template_command() -> None:
    """Print the default consent text (Markdown) to fill in and pass to `study serve --consent`."""
    from brainbench.study.templates import DEFAULT_CONSENT

    stdout.out(DEFAULT_CONSENT, end="", highlight=False)
