"""Published runs imported once per session, and the human trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainbench.data import load_dataset, load_human_study
from brainbench.runs import load_run
from brainbench.runs.published import import_published

PUBLISHED_MODELS = (
    "mistralai--Mistral-7B-v0.1",
    "lora_r256_a512_finetune_mistral_7b_v01",
    "gpt2",
    "meta-llama--Llama-2-7b-hf",
    "TinyLlama--TinyLlama_v1.1",
)


@pytest.fixture(scope="session")
def published_runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    dataset = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    out = tmp_path_factory.mktemp("published")
    runs = {}
    for model in PUBLISHED_MODELS:
        import_published(data_dir / "published_results" / model / "human_abstracts", dataset, model, out / model)
        runs[model] = load_run(out / model)[1]
    return runs


@pytest.fixture(scope="session")
def human_trials(data_dir: Path):
    return load_human_study(data_dir=data_dir, offline=True)
