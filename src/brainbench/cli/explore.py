"""``brainbench explore``: the item explorer, one static HTML page over runs of one dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.app import allow_partial_option, app, handle_errors, stderr, stdout
from brainbench.cli.options import DataDirOption


@app.command("explore", rich_help_panel="Analyses")
def explore_command(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run directories of one dataset (from `run` or `import-published`)."
    ),
    out: Path = typer.Option(Path("explorer.html"), "--out", "-o", help="The HTML file to write."),
    data_dir: DataDirOption = None,
    store: str | None = typer.Option(
        None, "--store", help="Read per-token scores from this results store instead of the one each run.json names."
    ),
    title: str | None = typer.Option(None, "--title", help="The page's title."),
    allow_partial: bool = allow_partial_option(),
) -> None:
    """One self-contained HTML page to look at items: the versions with the altered words marked, each run's choice
    and confidence, the experts on the item and, for transformers runs, where in the text the model found one version
    more surprising than the other. Opens from file:// (no server); keyboard: / j k Enter Esc t."""
    from brainbench.report.explore import build_explorer

    with handle_errors():
        payload = build_explorer(
            run_dirs,
            out,
            data_dir=data_dir,
            store=store,
            title=title,
            allow_partial=allow_partial,
            on_note=lambda note: stderr.print(note, highlight=False, markup=False),
        )
    with_tokens = sum(run["tokens"] for run in payload["runs"])
    size = out.stat().st_size
    stdout.print(
        f"explorer: {out} ({len(payload['items'])} items, {len(payload['runs'])} run(s), {with_tokens} with token "
        f"evidence; {size / 1e6:.2f} MB)",
        highlight=False,
        soft_wrap=True,
    )
