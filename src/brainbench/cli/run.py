"""``brainbench run``: plan a run from the flags (every option checked, no model loaded), load the model, execute."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from brainbench.cli.app import app, handle_errors, interruptible, print_json, progress_bar, stderr, stdout
from brainbench.cli.options import (
    AdapterOption,
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    DataDirOption,
    DeviceOption,
    DtypeOption,
    GgufFileOption,
    JsonOption,
    ModelOption,
    OfflineOption,
    RevisionOption,
    StoreOption,
    TemplateFileOption,
    TemplateOption,
)
from brainbench.cli.summary import print_summary
from brainbench.data import known_quirks, load_gettysburg
from brainbench.errors import InputError
from brainbench.runs import RunConfig, RunPlan, execute_run, plan_run
from brainbench.runs.memorisation import (
    MEMORISATION_FILE,
    memorisation_texts,
    read_reference_corpus,
    score_memorisation,
)
from brainbench.settings import load_settings


@app.command("run", rich_help_panel="Run and results")
def run_command(
    model: ModelOption = None,
    backend: BackendOption = "transformers",
    protocol: str = typer.Option(
        "perplexity",
        "--protocol",
        help="perplexity: the model scores each version's text, the lower perplexity wins (the paper's); choice: the "
        "model reads the versions as the experts did and answers which is real (for chat models, e.g. hosted ones "
        "without prompt log-probabilities).",
    ),
    samples: int | None = typer.Option(
        None,
        "--samples",
        min=1,
        help="--protocol choice: the confidence from K answers at temperature 1 (for endpoints that return no "
        "log-probabilities).",
    ),
    retries: int = typer.Option(
        2,
        "--retries",
        min=0,
        help="--protocol choice: ask again this many times after a refusal or an unreadable answer.",
    ),
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="openai-completions: requests in flight at once."),
    timeout: float = typer.Option(
        120.0, "--timeout", min=1, help="openai-completions: seconds per request before it is retried."
    ),
    dataset: str = typer.Option(
        "brainbench-human", "--dataset", "-d", help="brainbench-human, brainbench-gpt4, or a CSV/JSONL path."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default runs/<model>__<dataset>)."),
    gguf_file: GgufFileOption = None,
    adapter: AdapterOption = None,
    revision: RevisionOption = None,
    dtype: DtypeOption = "auto",
    device: DeviceOption = "auto",
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="Test cases per forward pass (texts with --engine simple). Default: from free GPU memory; 1 on CPU.",
    ),
    engine: str = typer.Option(
        "fast",
        "--engine",
        help="fast: run the versions' shared prefix once; simple: one full forward pass per text (the paper's loop).",
    ),
    compile_model: str = typer.Option(
        "off",
        "--compile",
        help="torch.compile the decoder (fast engine): off, on, or auto (only a GPU run of 1000+ cases). "
        "Compiled code is cached per machine; on CPU it measured no faster.",
    ),
    template: TemplateOption = None,
    template_file: TemplateFileOption = None,
    texts: str = typer.Option(
        "released",
        "--texts",
        help="released: the file's original/incorrect columns (as the paper); reparsed: read combined_abstract.",
    ),
    condition: str = typer.Option(
        "full",
        "--condition",
        help="full; no-context: each edited sentence alone (Fig S3); swapped: result sentences swapped between "
        "abstracts of a subfield (Fig S4; --seed 42 and 1234 as the paper).",
    ),
    seed: int = typer.Option(
        42,
        "--seed",
        help="Seed of the order the versions are shown in, and of the swaps with --condition swapped (the paper's is "
        "42).",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N selected items."),
    items: str | None = typer.Option(None, "--items", help="Item ids to score, e.g. 0,5,10-20."),
    data_dir: DataDirOption = None,
    offline: OfflineOption = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a different run already in --out."),
    store: StoreOption = None,
    shard: str | None = typer.Option(
        None,
        "--shard",
        help="i/n: score only items whose id is i modulo n (n machines share a run through one store). Under "
        "accelerate launch / torchrun: one shard per process.",
    ),
    memorisation: bool = typer.Option(
        False,
        "--memorisation",
        help="Also score the memorisation checks (zlib, Min-K%, Min-K%++ for each item and the Gettysburg control) "
        "into OUT/memorisation.jsonl.",
    ),
    reference: list[Path] | None = typer.Option(
        None,
        "--reference",
        help="With --memorisation: a JSONL/CSV corpus of texts (a 'text' and optional 'label' field), e.g. abstracts "
        "from after the model's training cut-off. Repeatable.",
    ),
    as_json: JsonOption = False,
) -> None:
    """Score every test case: the model picks the version with the lower perplexity."""
    with handle_errors():
        settings = load_settings(data_dir=data_dir, offline=offline, store=store)
        if reference and not memorisation:
            raise InputError(
                "--reference", None, "reference corpora are for the memorisation checks: add --memorisation"
            )
        if memorisation and condition != "full":
            raise InputError(
                "--memorisation",
                None,
                "the memorisation checks score the full abstracts: use them with --condition full",
            )
        references = {
            label: corpus for path in reference or [] for label, corpus in read_reference_corpus(path).items()
        }
        gettysburg = (
            load_gettysburg(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline)
            if memorisation
            else ""
        )
        options = {
            "model": model,
            "gguf_file": gguf_file,
            "adapter": adapter,
            "revision": revision,
            "dtype": dtype,
            "device": device,
            "batch_size": batch_size,
            "engine": engine,
            "compile": compile_model,
            "base_url": base_url,
            "api_key": api_key,
            "concurrency": concurrency,
            "timeout": timeout,
            "samples": samples,
            "retries": retries,
        }
        config = RunConfig(
            backend=backend,
            options=options,
            dataset=dataset,
            data_dir=settings.data_dir,
            cache_dir=settings.cache_dir,
            offline=settings.offline,
            texts=texts,
            template=template,
            template_file=template_file,
            condition=condition,
            seed=seed,
            items=items,
            limit=limit,
            out=out,
            store=settings.store,
            shard=shard,
            overwrite=overwrite,
            protocol=protocol,
        )
        if memorisation and protocol != "perplexity":
            raise InputError("--memorisation", None, "the memorisation checks need the perplexity protocol")
        plan = plan_run(config, environ=os.environ)
        for line in known_quirks(plan.dataset):
            stderr.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)
        mine = [case for case in plan.cases if plan.in_shard(case)]
        shard_note = f" (shard {plan.shard[0]}/{plan.shard[1]}: {len(mine)} of {len(plan.cases)})" if plan.shard else ""
        what = plan.dataset.name if condition == "full" else f"{plan.dataset.name} ({condition})"
        plan.claim()  # another run started into --out at the same time is refused now, not after its model loads
        stderr.print(f"loading model {plan.model_name} ({backend}) ...", highlight=False)
        try:
            scorer = plan.load_model()
        except BaseException:
            plan.release()
            raise
        how = (
            "asking each item in both orders"
            if protocol == "choice"
            else f"template {plan.template.name}, by {plan.template.chosen_by}"
        )
        stderr.print(
            f"scoring {len(plan.cases)} items{shard_note} of {what} with {plan.model_name} ({how}) -> {plan.out_dir}",
            highlight=False,
        )
        progress = progress_bar()
        with progress, interruptible():
            task = progress.add_task("scoring", total=len(mine))
            counts: dict[str, int] = {}  # the items the store held at the start, and done so far

            def on_progress(done: int, total: int) -> None:
                if "held" not in counts and done > 0:  # the first call says what the store already held
                    progress.console.print(
                        f"resuming: {done} of {total} items already in the results store", highlight=False
                    )
                counts.setdefault("held", done)
                counts["done"] = done
                progress.update(task, completed=done, total=total)

            try:
                summary = execute_run(plan, scorer, on_progress=on_progress)
                if memorisation:
                    texts_to_score = memorisation_texts(mine, plan.template, gettysburg, references)
                    checks = progress.add_task("memorisation", total=len(texts_to_score))
                    score_memorisation(
                        scorer,
                        texts_to_score,
                        plan.out_dir / MEMORISATION_FILE,
                        on_progress=lambda done, total: progress.update(checks, completed=done),
                    )
            except KeyboardInterrupt:
                progress.stop()
                kept = f" (memorisation scores in {plan.out_dir / MEMORISATION_FILE})" if memorisation else ""
                stderr.print(
                    f"[yellow]interrupted: every scored text is in the results store{kept}, and {plan.out_dir} shows "
                    "them, "
                    "marked partial; run the same command again to resume[/yellow]",
                    highlight=False,
                )
                raise typer.Exit(130) from None
    if as_json:
        print_json(summary)
    else:
        scored_now = counts.get("done", 0) - counts.get("held", 0)
        print_summary(summary, shard_partial_note(plan, summary), scored_now=scored_now)
        stdout.print(
            f"results: {plan.out_dir / 'results.jsonl'}  summary: {plan.out_dir / 'summary.json'}", highlight=False
        )


def shard_partial_note(plan: RunPlan, summary: dict[str, Any]) -> str | None:
    """What a shard that finished says of a run still partial: its own items are done; the other shards score the
    rest (still running, or yet to be started), and where to see how far they are."""
    if plan.shard is None or not summary.get("partial"):
        return None
    index, n = plan.shard
    mine = sum(plan.in_shard(case) for case in plan.cases)
    return (
        f"shard {index}/{n} done: its {mine} items are scored; the run holds {summary['n_items']} of "
        f"{summary['n_requested']} items so far, the other {n - 1} shard(s) score the rest (progress: brainbench runs "
        f"{plan.out_dir}); the last shard to finish writes the whole run (or: brainbench export {plan.out_dir})"
    )
