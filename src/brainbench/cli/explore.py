"""``brainbench explore``: the item explorer, one static HTML page over runs of one dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.analysis import human_trials_for, name_runs, read_runs
from brainbench.cli.app import allow_partial_option, app, handle_errors, stderr, stdout
from brainbench.data import DATASETS, GRADED_DATASETS, load_dataset
from brainbench.errors import InputError
from brainbench.settings import load_settings


@app.command("explore")
def explore_command(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run directories of one dataset (from `run` or `import-published`)."
    ),
    out: Path = typer.Option(Path("explorer.html"), "--out", "-o", help="The HTML file to write."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Local mirror of the dataset and the study's files (for the texts and the experts)."
    ),
    store: str | None = typer.Option(
        None, "--store", help="Read per-token scores from this results store instead of the one each run.json names."
    ),
    title: str | None = typer.Option(None, "--title", help="The page's title."),
    allow_partial: bool = allow_partial_option(),
) -> None:
    """One self-contained HTML page to look at items: the versions with the altered words marked, each run's choice
    and confidence, the experts on the item and, for transformers runs, where in the text the model found one version
    more surprising than the other. Opens from file:// (no server); keyboard: / j k Enter Esc t."""
    with handle_errors():
        payload = build_explorer(
            run_dirs, out, data_dir=data_dir, store=store, title=title, allow_partial=allow_partial
        )
    with_tokens = sum(run["tokens"] for run in payload["runs"])
    size = out.stat().st_size
    stdout.print(
        f"explorer: {out} ({len(payload['items'])} items, {len(payload['runs'])} run(s), {with_tokens} with token "
        f"evidence; {size / 1e6:.2f} MB)",
        highlight=False,
        soft_wrap=True,
    )


def build_explorer(
    run_dirs: list[Path],
    out: Path,
    *,
    data_dir: Path | None = None,
    store: str | None = None,
    title: str | None = None,
    allow_partial: bool = False,
) -> dict:
    """Read the runs (their full-condition ones), the dataset, the experts' trials and each run's token evidence,
    write the explorer to ``out`` and return its data (``brainbench report --explorer`` writes one too)."""
    from brainbench.report.explore import ExplorerRun, explorer_payload, load_token_evidence, write_explorer

    loaded = read_runs(run_dirs, "ppl", allow_partial)
    full = [run for run in loaded if (run[1].get("condition") or "full") == "full"]
    for run_dir, info, _ in loaded:
        if (info.get("condition") or "full") != "full":
            stderr.print(f"{run_dir}: left out of the explorer (condition {info['condition']}; it shows full runs)")
    if not full:
        raise InputError(run_dirs[0], None, "no full-condition run among the run directories")
    datasets = {info["dataset"] for _, info, _ in full}
    if len(datasets) != 1:
        raise InputError(
            "RUN_DIR", None, f"runs of {len(datasets)} datasets ({', '.join(sorted(datasets))}): explore one at a time"
        )
    settings = load_settings(data_dir=data_dir)
    info = full[0][1]
    name = info["dataset"]
    dataset = load_dataset(
        name if name in DATASETS or name in GRADED_DATASETS else info["dataset_path"],
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        texts=info.get("texts") or "released",
    )
    runs = []
    for run_name, _, run_info, records in name_runs(full):
        evidence, note = load_token_evidence(run_info, dataset, store)
        runs.append(ExplorerRun(run_name, run_info, records, evidence, note))
    payload = explorer_payload(runs, dataset, human_trials_for(datasets, data_dir), title)
    write_explorer(out, payload)
    return payload
