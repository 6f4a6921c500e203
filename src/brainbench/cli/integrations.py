"""``brainbench tasks``, ``brainbench import-lm-eval`` and ``brainbench import-inspect``: BrainBench inside
lm-evaluation-harness
and Inspect, and their results back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brainbench.cli.app import app, handle_errors, stderr, stdout
from brainbench.errors import InputError
from brainbench.integrations.inspect_log import find_logs, import_inspect_log
from brainbench.integrations.lm_eval import TASK_DIR, write_task_package
from brainbench.integrations.lm_eval.samples import find_samples, import_lm_eval_samples
from brainbench.io import check_output_path

tasks_app = typer.Typer(help="BrainBench as a task of other evaluation frameworks.")
app.add_typer(tasks_app, name="tasks", rich_help_panel="Integrations")


@tasks_app.callback(invoke_without_command=True)
def tasks_command(
    context: typer.Context,
    path: Annotated[
        bool,
        typer.Option(
            "--path",
            help="Print the folder of the shipped lm-evaluation-harness task package (for lm_eval --include_path).",
        ),
    ] = False,
) -> None:
    """BrainBench as a task of other evaluation frameworks: `tasks --path` prints where the lm-eval task package is,
    `tasks lm-eval DIR` writes a copy of it. Inspect finds its tasks itself: inspect eval brainbench/human (or
    brainbench/gpt4)."""
    if path:
        stdout.print(str(TASK_DIR), soft_wrap=True, highlight=False, markup=False)
    elif context.invoked_subcommand is None:
        stdout.print(context.get_help(), highlight=False, markup=False)


@tasks_app.command("lm-eval")
def lm_eval_command(
    out: Annotated[Path, typer.Argument(help="The folder to write the task package into (created if missing).")],
) -> None:
    """Write the lm-evaluation-harness task package (brainbench_human, brainbench_gpt4, the brainbench group) into OUT;
    then: lm_eval --include_path OUT --tasks brainbench_human ... (see OUT/README.md)."""
    with handle_errors():
        written = write_task_package(out)
    stderr.print(
        f"{len(written)} files -> {out}; run: lm_eval --model hf --model_args pretrained=MODEL --include_path {out} "
        "--tasks brainbench --log_samples --output_path OUTPUT",
        highlight=False,
        soft_wrap=True,
    )


@app.command("import-lm-eval", rich_help_panel="Integrations")
def import_lm_eval_command(
    samples_dir: Annotated[
        Path,
        typer.Argument(
            help="lm-eval's --output_path from a run with --log_samples (or the model's folder in it, or one "
            "samples_*.jsonl file)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Run directory to write; with several brainbench tasks, one subfolder per task."
        ),
    ],
    task: Annotated[str | None, typer.Option("--task", help="Import this task only (e.g. brainbench_human).")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="The model's name in tables and figures (default: the GGUF file, else pretrained=)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace another run in --out.")] = False,
) -> None:
    """Turn lm-eval's per-sample log of the brainbench tasks into normal run directories (summary, compare, report,
    team work on them)."""
    with handle_errors():
        check_output_path(out, "folder")
        found = find_samples(samples_dir)
        if task is not None:
            if task not in found:
                raise InputError("--task", None, f"{task!r}: the samples here are of {', '.join(sorted(found))}")
            found = {task: found[task]}
        for name, samples in sorted(found.items()):
            target = out if len(found) == 1 else out / name
            summary = import_lm_eval_samples(samples, target, model=model, overwrite=overwrite)
            stderr.print(
                f"{summary['model']}: {summary['n_items']} items of {summary['dataset']}, accuracy "
                f"{100 * summary['accuracy']:.1f}% -> {target}",
                highlight=False,
                soft_wrap=True,
            )


@app.command("import-inspect", rich_help_panel="Integrations")
def import_inspect_command(
    log: Annotated[
        Path,
        typer.Argument(
            help="An Inspect log of a brainbench task (.eval or .json), or a log folder (--log-dir): its newest log of "
            "each brainbench task."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Run directory to write; with several brainbench tasks, one subfolder per task."
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="The model's name in tables and figures (default: Inspect's, e.g. openai-api/vllm/org/name).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace another run in --out.")] = False,
) -> None:
    """Turn Inspect's log of the brainbench choice task into normal run directories (summary, compare, report work on
    them)."""
    with handle_errors():
        check_output_path(out, "folder")
        found = find_logs(log)
        for name, path in found.items():
            target = out if len(found) == 1 else out / name.replace("/", "_")
            summary = import_inspect_log(path, target, model=model, overwrite=overwrite)
            choice = summary["choice"]
            stderr.print(
                f"{summary['model']}: {summary['n_items']} items of {summary['dataset']}, accuracy "
                f"{100 * summary['accuracy']:.1f}% "
                f"({choice['n_unanswered']} unanswered, P(A) {choice['position_bias_a']:.2f}) -> {target}",
                highlight=False,
                soft_wrap=True,
            )
