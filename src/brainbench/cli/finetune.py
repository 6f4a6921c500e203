"""``brainbench finetune``: LoRA-tune a model on a corpus (the paper's BrainGPT recipe by default)."""

from __future__ import annotations

from pathlib import Path

import typer

from brainbench.cli.app import app, handle_errors, stderr, stdout
from brainbench.cli.options import GgufFileOption, ModelOption


@app.command("finetune", rich_help_panel="Training")
def finetune_command(
    corpus: Path = typer.Option(..., "--corpus", help="A corpus folder from `brainbench corpus build`."),
    out: Path = typer.Option(..., "--out", "-o", help="Where the adapter (and checkpoints) go; running again resumes."),
    model: ModelOption = None,
    gguf_file: GgufFileOption = None,
    target: str = typer.Option("both", "--target", help="LoRA on mlp, attention or both (the paper: both)."),
    lora_r: int = typer.Option(8, "--lora-r", min=1),
    lora_alpha: int = typer.Option(32, "--lora-alpha", min=1),
    lora_dropout: float = typer.Option(0.1, "--lora-dropout", min=0.0, max=1.0),
    full: bool = typer.Option(False, "--full", help="Tune every weight instead of a LoRA adapter."),
    block_size: int = typer.Option(2048, "--block-size", min=8, help="Tokens per training block."),
    learning_rate: float = typer.Option(2e-5, "--learning-rate", "--lr"),
    epochs: float = typer.Option(1.0, "--epochs"),
    max_steps: int = typer.Option(-1, "--max-steps", help="Optimizer steps (overrides --epochs when > 0)."),
    batch_size: int = typer.Option(1, "--batch-size", min=1, help="Blocks per device per step."),
    gradient_accumulation: int = typer.Option(8, "--gradient-accumulation", min=1),
    warmup_ratio: float = typer.Option(0.03, "--warmup-ratio", min=0.0, max=1.0),
    weight_decay: float = typer.Option(0.001, "--weight-decay", min=0.0),
    eval_steps: int = typer.Option(500, "--eval-steps", min=1, help="Validation loss every N steps."),
    save_steps: int = typer.Option(500, "--save-steps", min=1, help="Checkpoint every N steps."),
    seed: int = typer.Option(42, "--seed"),
    merge: bool = typer.Option(
        False, "--merge", help="Also write the base model with the adapter merged in (OUT/merged)."
    ),
) -> None:
    """Tune a model on a corpus; the adapter loads with `brainbench run --adapter OUT`."""
    from brainbench.finetune import FinetuneConfig, check_finetune_paths, finetune

    with handle_errors():
        config = FinetuneConfig(
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target=target,
            full=full,
            block_size=block_size,
            learning_rate=learning_rate,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            gradient_accumulation=gradient_accumulation,
            warmup_ratio=warmup_ratio,
            weight_decay=weight_decay,
            eval_steps=eval_steps,
            save_steps=save_steps,
            seed=seed,
        )
        check_finetune_paths(corpus, out)
        stderr.print(f"tuning {model or 'the embedded model'} on {corpus} -> {out}", highlight=False)
        result = finetune(corpus, out, model=model, gguf_file=gguf_file, config=config, merge=merge)
    stdout.print(
        f"validation loss {result['valid_loss_before']:.4f} -> {result['valid_loss_after']:.4f} after "
        f"{result['steps']} steps; "
        f"{result['tokens_per_s']:.0f} tokens/s, peak memory {result['peak_rss_mb']:.0f} MB; adapter: {out}",
        highlight=False,
    )
    stdout.print(f"details: {out / 'finetune.json'}", highlight=False)
