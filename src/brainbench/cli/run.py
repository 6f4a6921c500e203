"""``brainbench run``: score a dataset with a model and write a run directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer
from brainbench.cli.app import app, handle_errors, progress_bar, stderr, stdout
from brainbench.cli.summary import print_summary
from brainbench.data import Dataset, TestCase, load_dataset, load_gettysburg
from brainbench.data.conditions import apply_condition
from brainbench.errors import InputError
from brainbench.runs import run_benchmark
from brainbench.runs.execute import run_dir_name
from brainbench.runs.memorisation import MEMORISATION_FILE, memorisation_texts, read_reference_corpus, score_memorisation
from brainbench.scoring import backend_options, load_scorer, resolve_template
from brainbench.settings import load_settings


def parse_items(spec: str) -> list[int]:
    """'0,5,10-12' -> [0, 5, 10, 11, 12]."""
    items: list[int] = []
    for part in filter(None, (piece.strip() for piece in spec.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise InputError("--items", None, f"{part!r} is not an item id or a range like 10-20")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        items.extend(range(first, last + 1))
    return items


def select_cases(dataset: Dataset, items: str | None, limit: int | None) -> list[TestCase]:
    cases = list(dataset.cases)
    if items:
        wanted = parse_items(items)
        by_id = {case.item_id: case for case in cases}
        unknown = [item for item in wanted if item not in by_id]
        if unknown:
            raise InputError("--items", None, f"no item(s) {unknown[:10]} in {dataset.name} (ids 0-{max(by_id)})")
        cases = [by_id[item] for item in dict.fromkeys(wanted)]
    return cases[:limit] if limit is not None else cases


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'1/4' -> (1, 4)."""
    if spec is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise InputError("--shard", None, f"{spec!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


@app.command("run")
def run_command(
    model: str | None = typer.Option(None, "--model", "-m", help="Hugging Face id, local folder or .gguf file; with openai-completions, the served model's name. Default: the embedded SmolLM2-135M-Instruct."),
    backend: str = typer.Option("transformers", "--backend", "-b", help="transformers, llama-cpp (GGUF in-process) or openai-completions (a vLLM / llama-cpp-python server)."),
    base_url: str | None = typer.Option(None, "--base-url", help="openai-completions: the server, e.g. http://127.0.0.1:8000/v1."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="openai-completions: API key (or OPENAI_API_KEY)."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="openai-completions: requests in flight at once."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="openai-completions: seconds per request before it is retried."),
    dataset: str = typer.Option("brainbench-human", "--dataset", "-d", help="brainbench-human, brainbench-gpt4, or a CSV/JSONL path."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default runs/<model>__<dataset>)."),
    gguf_file: str | None = typer.Option(None, "--gguf-file", help="GGUF file inside --model's folder or repo."),
    adapter: str | None = typer.Option(None, "--adapter", help="A peft (LoRA) adapter folder or id."),
    revision: str | None = typer.Option(None, "--revision", help="Model revision (branch, tag or commit)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16 or float16 (auto: float32 on CPU, bf16/fp16 on CUDA)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, mps."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Test cases per forward pass (texts with --engine simple). Default: from free GPU memory; 1 on CPU."),
    engine: str = typer.Option("fast", "--engine", help="fast: run the two versions' shared prefix once; simple: one full forward pass per text (the paper's loop)."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the decoder (fast engine): minutes to compile, then faster; worth it for long runs."),
    template: str | None = typer.Option(None, "--template", help="One of the paper's prompt templates by name (e.g. gpt2, mistralai--Mistral-7B-v0.1), or none for the bare abstract. Default: the paper's file for the model (or adapter), else its generic gpt2 template."),
    template_file: Path | None = typer.Option(None, "--template-file", help="A template file with a <choice abstract> slot."),
    texts: str = typer.Option("released", "--texts", help="released: the file's original/incorrect columns (as the paper); reparsed: read combined_abstract."),
    condition: str = typer.Option("full", "--condition", help="full; no-context: each edited sentence alone (Fig S3); swapped: result sentences swapped between abstracts of a subfield (Fig S4; --seed 42 and 1234 as the paper)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the A/B order, and of the swaps with --condition swapped (the paper's is 42)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N selected items."),
    items: str | None = typer.Option(None, "--items", help="Item ids to score, e.g. 0,5,10-20."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Local mirror of the dataset files (or BRAINBENCH_DATA_DIR)."),
    offline: bool | None = typer.Option(None, "--offline/--online", help="Never download (or BRAINBENCH_OFFLINE=1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a different run already in --out."),
    store: str | None = typer.Option(None, "--store", help="Results store: SQLite file or database URL (or BRAINBENCH_STORE; default brainbench.sqlite beside --out)."),
    shard: str | None = typer.Option(None, "--shard", help="i/n: score only items whose id is i modulo n (n machines share a run through one store). Under accelerate launch / torchrun: one shard per process."),
    memorisation: bool = typer.Option(False, "--memorisation", help="Also score the memorisation checks (zlib, Min-K%, Min-K%++ for each item and the Gettysburg control) into OUT/memorisation.jsonl."),
    reference: list[Path] = typer.Option([], "--reference", help="With --memorisation: a JSONL/CSV corpus of texts (a 'text' and optional 'label' field), e.g. abstracts from after the model's training cut-off. Repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score every test case: the model picks the version with the lower perplexity."""
    with handle_errors():
        if texts not in ("released", "reparsed"):
            raise InputError("--texts", None, f"{texts!r}: choose released or reparsed")
        settings = load_settings(data_dir=data_dir, offline=offline, store=store)
        shard_spec = parse_shard(shard)
        if shard_spec is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch / torchrun
            shard_spec = (int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"]))
            if device == "auto" and backend == "transformers":
                device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        data = load_dataset(dataset, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline, texts=texts)  # type: ignore[arg-type]
        if data.problems:
            stderr.print(
                f"[yellow]{data.name}: {len(data.errors)} error(s), {len(data.warnings)} warning(s) in the file; "
                f"scoring {'the released columns' if texts == 'released' else 'the reparsed texts'}. "
                f"Details: brainbench validate {dataset}[/yellow]",
                highlight=False,
            )
        if reference and not memorisation:
            raise InputError("--reference", None, "reference corpora are for the memorisation checks: add --memorisation")
        if memorisation and condition != "full":
            raise InputError("--memorisation", None, "the memorisation checks score the full abstracts: use them with --condition full")
        references = {label: texts for path in reference for label, texts in read_reference_corpus(path).items()}
        gettysburg = load_gettysburg(data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline) if memorisation else ""
        data, condition_labels = apply_condition(data, condition, seed)
        cases = select_cases(data, items, limit)
        chosen_template = resolve_template(template, template_file, model, adapter=adapter, data_dir=settings.data_dir,
                                           cache_dir=settings.cache_dir, offline=settings.offline)
        stderr.print(f"loading model {model or 'SmolLM2-135M-Instruct (embedded)'} ({backend}) ...", highlight=False)
        options = backend_options(
            backend, "--", model=model, gguf_file=gguf_file, adapter=adapter, revision=revision, dtype=dtype, device=device,
            batch_size=batch_size, engine=engine, compile=compile_model, base_url=base_url, api_key=api_key,
            concurrency=concurrency, timeout=timeout,
        )
        scorer = load_scorer(backend, **options)
        out_dir = out or Path("runs") / run_dir_name(scorer.name, data.name, backend, condition, seed)
        n_mine = len([case for case in cases if shard_spec is None or case.item_id % shard_spec[1] == shard_spec[0]])
        shard_note = f" (shard {shard_spec[0]}/{shard_spec[1]}: {n_mine} of {len(cases)})" if shard_spec else ""
        what = data.name if condition == "full" else f"{data.name} ({condition})"
        stderr.print(f"scoring {len(cases)} items{shard_note} of {what} with {scorer.name} (template {chosen_template.name}, by {chosen_template.chosen_by}) -> {out_dir}", highlight=False)
        progress = progress_bar()
        with progress:
            task = progress.add_task("scoring", total=len(cases))

            started = False

            def on_progress(done: int, total: int) -> None:
                nonlocal started
                if not started and done > 0:  # the first call says what the store already held
                    progress.console.print(f"resuming: {done} of {total} items already in the results store", highlight=False)
                started = True
                progress.update(task, completed=done, total=total)

            try:
                summary = run_benchmark(
                    data, scorer, out_dir, template=chosen_template, seed=seed, cases=cases, overwrite=overwrite,
                    on_progress=on_progress,
                    store=settings.store, shard=shard_spec, condition=condition, labels=condition_labels,
                )
                if memorisation:
                    texts = memorisation_texts(cases, chosen_template, gettysburg, references)
                    checks = progress.add_task("memorisation", total=len(texts))
                    score_memorisation(scorer, texts, out_dir / MEMORISATION_FILE, on_progress=lambda done, total: progress.update(checks, completed=done))
            except KeyboardInterrupt:
                progress.stop()
                stderr.print(f"[yellow]interrupted: every scored text is in the results store (memorisation scores in {out_dir / MEMORISATION_FILE}) and {out_dir} shows them; run the same command again to resume[/yellow]", highlight=False)
                raise typer.Exit(130) from None
    if as_json:
        import json

        stdout.print_json(json.dumps(summary, default=str))
    else:
        print_summary(summary)
        stdout.print(f"results: {out_dir / 'results.jsonl'}  summary: {out_dir / 'summary.json'}", highlight=False)
