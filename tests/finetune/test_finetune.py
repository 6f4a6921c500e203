"""LoRA tuning of the embedded model on a corpus built through the local E-utilities server, then scoring with the
adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.corpus import collect, finalize
from brainbench.errors import InputError
from brainbench.finetune import FinetuneConfig, finetune, lora_targets, token_blocks
from brainbench.pubmed import EUtilsClient
from brainbench.scoring.hf import load_causal_lm
from tests.conftest import save_tiny_llama
from tests.corpus.eutils_server import ServerState, eutils_server, make_articles
from tests.corpus.test_corpus import JOURNALS


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, embedded_scorer) -> Path:
    """The smallest model that shows learning: a random 2-layer Llama of width 32 with the embedded tokenizer."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama-2048"), embedded_scorer.tokenizer, 2048)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    with eutils_server(ServerState(make_articles())) as url:
        collect(EUtilsClient(url, requests_per_second=50), JOURNALS, 2002, 2022, out, batch_size=50)
    finalize(out, valid_fraction=0.3)
    return out


@pytest.mark.slow  # loads the embedded model
def test_blocks_and_targets() -> None:
    lm, tokenizer, _, _ = load_causal_lm()
    blocks = token_blocks([{"text": "one two three"}, {"text": "four five"}], tokenizer, 3)
    stream = tokenizer("one two three", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert blocks[0] == stream[:3] and all(len(block) == 3 for block in blocks)
    assert lora_targets(lm, "attention") == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert lora_targets(lm, "mlp") == ["down_proj", "gate_proj", "up_proj"]
    with pytest.raises(InputError, match="choose mlp, attention or both"):
        lora_targets(lm, "all")


@pytest.mark.slow
def test_tuning_lowers_the_validation_loss_and_the_adapter_scores(
    corpus: Path, tiny_model: Path, tmp_path: Path, data_dir: Path
) -> None:
    config = FinetuneConfig(
        block_size=64,
        max_steps=12,
        batch_size=2,
        gradient_accumulation=1,
        learning_rate=1e-2,
        eval_steps=6,
        save_steps=6,
        warmup_ratio=0.0,
    )
    result = finetune(corpus, tmp_path / "adapter", model=str(tiny_model), config=config)
    assert result["valid_loss_after"] < result["valid_loss_before"] - 0.1
    assert result["steps"] == 12 and result["tokens_per_s"] > 0 and result["trainable_parameters"] < 5_000_000
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    # running again resumes from the last checkpoint: nothing left to train
    again = finetune(corpus, tmp_path / "adapter", model=str(tiny_model), config=config, merge=True)
    assert again["steps"] == 12 and again["valid_loss_after"] == pytest.approx(result["valid_loss_after"], rel=1e-4)
    # the merged model is a plain model that scores as the base model with the adapter does
    from brainbench.scoring import load_scorer

    text = "Place cells encode space in the hippocampus of freely moving rats."
    with_adapter = (
        load_scorer(model=str(tiny_model), adapter=str(tmp_path / "adapter"), dtype="float32", device="cpu")
        .score_texts([text])[0]
        .ppl
    )
    merged = (
        load_scorer(model=str(tmp_path / "adapter" / "merged"), dtype="float32", device="cpu")
        .score_texts([text])[0]
        .ppl
    )
    assert merged == pytest.approx(with_adapter, rel=1e-4)
    runner = CliRunner()
    args = [
        "run",
        "--model",
        str(tiny_model),
        "--adapter",
        str(tmp_path / "adapter"),
        "--dataset",
        "brainbench-human",
        "--data-dir",
        str(data_dir),
        "--limit",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--store",
        str(tmp_path / "store.sqlite"),
        "--json",
    ]
    outcome = runner.invoke(app, args)
    assert outcome.exit_code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert summary["n_scored"] == 2 and summary["run"]["scorer"]["adapter"] == str(tmp_path / "adapter")


@pytest.mark.slow  # builds a corpus and loads a model
def test_a_corpus_too_small_for_a_block_is_refused(corpus: Path, tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="less than one block of 100000 tokens"):
        finetune(corpus, tmp_path / "x", model=str(tiny_model), config=FinetuneConfig(block_size=100_000))
