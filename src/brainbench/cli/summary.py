"""``brainbench summary``: accuracy with 95% CI and the per-subfield table of a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from brainbench.analysis.graded import describe_rps_difference
from brainbench.cli.app import app, handle_errors, print_json, rule_option, stderr, stdout
from brainbench.cli.options import JsonOption
from brainbench.runs import load_run, summarize
from brainbench.runs.records import with_decision
from brainbench.scoring.rules import check_normalisation

PARTIAL_EXIT = 3  # a partial run: not a failure of the command, but not a finished run either


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%" if value == value else "n/a"


def print_summary(summary: dict[str, Any], partial_note: str | None = None, scored_now: int | None = None) -> None:
    """Render a summary as a headline and a per-subfield table on stdout (a partial run says so first, on stderr:
    ``partial_note`` where the caller knows why, e.g. other shards still running). ``scored_now``: how many items
    the command itself scored (0: it found them all in the store, so their scoring time is not this command's)."""
    if summary.get("partial"):
        note = partial_note or (
            f"partial: {summary['n_items']} of {summary['n_requested']} items (resume with the same command)"
        )
        stderr.print(f"[yellow]{note}[/yellow]", highlight=False)
    low, high = summary["accuracy_ci95"]
    rule = summary.get("normalisation", "ppl")
    stdout.print(
        f"[bold]{summary['model']}[/bold] on [bold]{summary['dataset']}[/bold]: accuracy "
        f"[bold]{_pct(summary['accuracy'])}[/bold] (95% CI {_pct(low)}-{_pct(high)}; chance "
        f"{_pct(summary.get('chance', 0.5))}), "
        f"{summary['n_correct']}/{summary['n_scored']} correct, {summary['n_ties']} ties, {summary['n_errors']} errors"
        + ("" if rule == "ppl" else f" (rule: {rule})"),
        highlight=False,
    )
    if "choice" in summary:
        stats = summary["choice"]
        orders = ", ".join(f"{order} {_pct(value)}" for order, value in stats["accuracy_by_order"].items())
        stdout.print(
            f"choice protocol: answered 'A' {_pct(stats['position_bias_a'])} of the time (position bias; "
            f"{_pct(summary['chance'])} is none); "
            f"accuracy by order: {orders}; {stats['n_refused']} refusals and {stats['n_unreadable']} unreadable "
            "answers "
            f"of {stats['n_questions']} questions; {stats['n_unanswered']} items unanswered (not counted); "
            f"confidence from {', '.join(stats['confidence_from']) or 'n/a'}",
            highlight=False,
        )
    table = Table(title="Accuracy by subfield")
    for column in ("subfield", "n", "correct", "accuracy", "95% CI"):
        table.add_column(column, justify="left" if column == "subfield" else "right")
    for subfield, stats in summary["by_subfield"].items():
        lo, hi = stats["accuracy_ci95"]
        table.add_row(
            subfield, str(stats["n"]), str(stats["n_correct"]), _pct(stats["accuracy"]), f"{_pct(lo)}-{_pct(hi)}"
        )
    table.add_section()
    table.add_row(
        "all",
        str(summary["n_scored"]),
        str(summary["n_correct"]),
        _pct(summary["accuracy"]),
        f"{_pct(low)}-{_pct(high)}",
    )
    stdout.print(table)
    if summary.get("graded"):
        print_graded(summary["graded"])
    if scored_now == 0:
        stdout.print("nothing scored now: every item was already in the results store", highlight=False)
    elif summary.get("tokens_per_s"):
        seconds = summary.get("scoring_wall_s") or summary["scoring_elapsed_s"]
        stdout.print(
            f"scoring time {seconds:.1f} s, {summary['tokens_per_s']:.0f} tokens/s, "
            f"{summary['items_per_s']:.2f} items/s",
            highlight=False,
        )


def print_graded(graded: dict[str, Any]) -> None:
    """The forecasts of the graded cases against the uniform grid's (``brainbench.runs.summary.graded_summary``)."""
    table = Table(
        title=f"Graded cases ({graded['n']}): the model's distribution over each grid against the uniform one"
    )
    for column in ("", "model", "uniform grid"):
        table.add_column(column, justify="left" if not column else "right")
    uniform = graded["uniform"]
    table.add_row(
        "mean |predicted mean - truth| / grid range", f"{graded['mae_relative']:.3f}", f"{uniform['mae_relative']:.3f}"
    )
    table.add_row("ranked probability score (0 best)", f"{graded['rps']:.4f}", f"{uniform['rps']:.4f}")
    table.add_row("mean rank of the true value", f"{graded['mean_rank']:.2f}", f"{uniform['mean_rank']:.2f}")
    for percent in (50, 80):
        low, high = graded[f"coverage_{percent}_ci95"]
        table.add_row(
            f"truth inside the central {percent}% interval",
            f"{_pct(graded[f'coverage_{percent}'])} ({_pct(low)}-{_pct(high)})",
            _pct(uniform[f"coverage_{percent}"]),
        )
        table.add_row(
            "  probability those intervals hold",
            _pct(graded[f"interval_mass_{percent}"]),
            _pct(uniform[f"interval_mass_{percent}"]),
        )
    stdout.print(table)
    stdout.print(describe_rps_difference(graded["rps_difference"], *graded["rps_difference_ci95"]), highlight=False)


@app.command("summary", rich_help_panel="Run and results")
def summary_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by `brainbench run`."),
    normalisation: str = rule_option(),
    as_json: JsonOption = False,
) -> None:
    """Print a run's accuracy (95% CI, against chance) and its per-subfield table. A run that holds fewer items than
    it was asked for (interrupted, or still running) is reported partial, with exit code 3."""
    with handle_errors():
        check_normalisation(normalisation)
        run_info, records = load_run(run_dir)
        summary = summarize([with_decision(record, normalisation) for record in records], run_info)
    if as_json:
        print_json(summary)
    else:
        print_summary(summary)
    if summary["partial"]:
        raise typer.Exit(PARTIAL_EXIT)
