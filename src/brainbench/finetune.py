"""Domain tuning (BrainGPT): LoRA, or full fine-tuning, of a causal LM on a corpus from ``brainbench corpus``.

The paper's recipe is the default: LoRA r=8, alpha=32, dropout 0.1 on the MLP and attention
projections; documents concatenated (each closed by the EOS token) and cut into blocks of 2048
tokens; AdamW, learning rate 2e-5, cosine schedule with 3% warm-up, weight decay 0.001,
gradient accumulation. Training runs in transformers' Trainer, so checkpoints, resuming,
mixed precision and several GPUs (``accelerate launch -m brainbench finetune ...``) come from it.
The result is a peft adapter folder for ``brainbench run --adapter``, optionally a merged model,
and ``finetune.json`` with the validation loss before and after, throughput and peak memory.
"""

from __future__ import annotations

import json
import re
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from brainbench.data.corpus import corpus_files, read_corpus
from brainbench.errors import InputError
from brainbench.io import check_output_path

RESULT_FILE = "finetune.json"
_ATTENTION = re.compile(r"attn|attention", re.IGNORECASE)
_MLP = re.compile(r"mlp|ffn|feed_forward|fc\d?$", re.IGNORECASE)


@dataclass
class FinetuneConfig:
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    target: str = "both"  # mlp, attention or both
    full: bool = False  # every weight instead of a LoRA adapter
    block_size: int = 2048
    learning_rate: float = 2e-5
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 1
    gradient_accumulation: int = 8
    warmup_ratio: float = 0.03
    weight_decay: float = 0.001
    eval_steps: int = 500
    save_steps: int = 500
    seed: int = 42


def token_blocks(documents: list[dict[str, Any]], tokenizer: Any, block_size: int) -> list[list[int]]:
    """Documents tokenised, each closed by EOS, concatenated and cut into blocks of ``block_size``
    tokens (the remainder shorter than a block is dropped)."""
    stream: list[int] = []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for document in documents:
        stream.extend(tokenizer(document["text"], add_special_tokens=False)["input_ids"] + eos)
    return [stream[start : start + block_size] for start in range(0, len(stream) - block_size + 1, block_size)]


def lora_targets(model: Any, target: str) -> list[str]:
    """Names of the linear layers to adapt: those under attention, under the MLP, or both."""
    import torch

    if target not in ("mlp", "attention", "both"):
        raise InputError("--target", None, f"{target!r}: choose mlp, attention or both")
    names = set()
    for path, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or path.endswith("lm_head"):
            continue
        in_attention = bool(_ATTENTION.search(path))
        in_mlp = not in_attention and bool(_MLP.search(path))
        if (target in ("attention", "both") and in_attention) or (target in ("mlp", "both") and in_mlp):
            names.add(path.rsplit(".", 1)[-1])
    if not names:
        raise InputError("--target", None, f"found no {target} linear layers in {type(model).__name__}")
    return sorted(names)


class _Blocks:
    """A torch-style dataset of fixed-length blocks; labels are the inputs (the model shifts them)."""

    def __init__(self, blocks: list[list[int]]) -> None:
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ids = torch.tensor(self.blocks[index])
        return {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}


def check_finetune_paths(corpus_dir: Path, out_dir: Path) -> Path:
    """Before a model loads: the corpus has a manifest (its documents are read once, by ``finetune``, also before
    the model loads), and ``out_dir`` can be written as a folder."""
    corpus_files(corpus_dir)
    return check_output_path(Path(out_dir), "folder")


def corpus_blocks(
    corpus_dir: Path, documents: dict[str, list[dict[str, Any]]], tokenizer: Any, block_size: int
) -> tuple[list[list[int]], list[list[int]]]:
    """The train and valid splits' ``documents`` as blocks of ``block_size`` tokens; a split without one whole block
    is an error."""
    train_blocks = token_blocks(documents["train"], tokenizer, block_size)
    valid_blocks = token_blocks(documents["valid"], tokenizer, block_size)
    if not train_blocks:
        raise InputError(
            corpus_dir,
            None,
            f"the train split holds less than one block of {block_size} tokens: use a smaller --block-size",
        )
    if not valid_blocks:
        raise InputError(
            corpus_dir,
            None,
            f"the valid split holds less than one block of {block_size} tokens: raise --valid-fraction when "
            "building, or lower --block-size",
        )
    return train_blocks, valid_blocks


def training_arguments(config: FinetuneConfig, out_dir: Path, dtype: str, cuda: bool) -> Any:
    """transformers' TrainingArguments for ``config``: evaluate and checkpoint every few steps, cosine schedule."""
    import transformers

    return transformers.TrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps (transformers 5)
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, min(50, config.eval_steps)),
        bf16=dtype == "bfloat16",
        use_cpu=not cuda,
        seed=config.seed,
        report_to=[],
        dataloader_num_workers=0,
    )


def finetune(
    corpus_dir: Path,
    out_dir: Path,
    *,
    model: str | None = None,
    gguf_file: str | None = None,
    config: FinetuneConfig | None = None,
    merge: bool = False,
) -> dict[str, Any]:
    """Tune ``model`` (None: the embedded model) on the corpus; write the adapter (or model) to
    ``out_dir`` and return what ``finetune.json`` records. Re-running with the same ``out_dir``
    resumes from its last checkpoint."""
    import torch
    import transformers

    from brainbench.scoring.hf import load_causal_lm

    config = config or FinetuneConfig()
    out_dir = check_finetune_paths(corpus_dir, out_dir)
    cuda = torch.cuda.is_available()
    dtype = "bfloat16" if cuda and torch.cuda.is_bf16_supported() else "float32"
    documents = {split: read_corpus(corpus_dir, split) for split in ("train", "valid")}  # a bad line: before loading
    lm, tokenizer, name, weights = load_causal_lm(model, gguf_file=gguf_file, dtype="float32")
    train_blocks, valid_blocks = corpus_blocks(corpus_dir, documents, tokenizer, config.block_size)
    if not config.full:
        import peft

        lora = peft.LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=lora_targets(lm, config.target),
            task_type="CAUSAL_LM",
        )
        lm = peft.get_peft_model(lm, lora)
    arguments = training_arguments(config, out_dir, dtype, cuda)
    trainer = transformers.Trainer(
        model=lm, args=arguments, train_dataset=_Blocks(train_blocks), eval_dataset=_Blocks(valid_blocks)
    )
    before = trainer.evaluate()["eval_loss"]
    checkpoints = sorted((out_dir / "checkpoints").glob("checkpoint-*"))
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    elapsed = time.perf_counter() - started
    after = trainer.evaluate()["eval_loss"]
    trainer.save_model(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    if merge and not config.full:
        merged = lm.merge_and_unload()
        merged.save_pretrained(str(out_dir / "merged"))
        tokenizer.save_pretrained(str(out_dir / "merged"))
    steps = outcome.global_step
    tokens = (
        outcome.metrics.get("train_samples_per_second", 0.0)
        * outcome.metrics.get("train_runtime", 0.0)
        * config.block_size
    )
    result = {
        "base_model": name,
        "base_weights": str(weights),
        "corpus": str(Path(corpus_dir).resolve()),
        "config": asdict(config),
        "train_blocks": len(train_blocks),
        "valid_blocks": len(valid_blocks),
        "steps": steps,
        "valid_loss_before": before,
        "valid_loss_after": after,
        "train_loss": outcome.training_loss,
        "tokens_per_s": tokens / elapsed if elapsed > 0 else None,
        "seconds": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "trainable_parameters": sum(p.numel() for p in lm.parameters() if p.requires_grad),
        "device": "cuda" if cuda else "cpu",
        "dtype": dtype,
    }
    (out_dir / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
