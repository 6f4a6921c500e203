"""Shared fixtures: caches in tmp, no hub access, the dataset mirror, and the --runslow switch."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.commands import embedded_run_args, invoke
from tests.servers import PostgresServer, postgres_binaries, serving

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache directory and never reaches a model hub."""
    monkeypatch.setenv("BRAINBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))  # the user's results store
    monkeypatch.delenv("BRAINBENCH_STORE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf-home"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The local mirror of the BrainBench files (BRAINBENCH_DATA_DIR, else ../shared/data/brainbench)."""
    path = Path(os.environ.get("BRAINBENCH_DATA_DIR") or REPO_ROOT.parent / "shared" / "data" / "brainbench")
    if not (path / "BrainBench_Human_v0.1.csv").is_file():
        message = f"no BrainBench mirror at {path}; set BRAINBENCH_DATA_DIR"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test against the real files, never skip them
        pytest.skip(message)
    return path.resolve()


@pytest.fixture(scope="session")
def paper_set_runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{model: run directory} of the paper's 15 models (stand-ins: tests/analysis/paper_reference.py) and BrainGPT,
    imported once per session by ``brainbench import-published`` with Hugging Face ids, as a user would."""
    from tests.analysis.paper_reference import folder, stand_in_set

    out = tmp_path_factory.mktemp("paper-set")
    runs = {}
    for name, arrays in [
        *stand_in_set(data_dir).items(),
        ("lora_r256_a512_finetune_mistral_7b_v01", "lora_r256_a512_finetune_mistral_7b_v01"),
    ]:
        source = data_dir / "published_results" / arrays / "human_abstracts"
        runs[name] = out / folder(name)
        result = invoke("import-published", str(source), "--model", name, "--out", str(runs[name]))
        assert result.returncode == 0, result.stderr
    return runs


@pytest.fixture(scope="session")
def embedded_scorer():
    """The embedded SmolLM2-135M-Instruct, loaded once per session (float32, CPU)."""
    from brainbench.scoring import load_scorer

    return load_scorer(dtype="float32", device="cpu")


def _postgres(binaries: Path | None) -> Path:
    if binaries is None or importlib.util.find_spec("psycopg") is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) and psycopg are needed in CI: make test installs them")
        pytest.skip("no PostgreSQL server binaries or no psycopg here")
    return binaries


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package; make test installs it)."""
    server = PostgresServer(_postgres(postgres_binaries()))
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, which it may stop and restart (about 2 s to set up)."""
    server = PostgresServer(_postgres(postgres_binaries()))
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the embedded GGUF on 127.0.0.1 (one per session)."""
    from brainbench.scoring.embedded import embedded_model_file

    with serving(embedded_model_file(), tmp_path_factory.mktemp("server")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def served_choice_run(llama_server: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The choice protocol through the session's llama.cpp server (the embedded instruct model) on items 0-3, run
    once per session: the Inspect and the local chat-model tests compare their answers with it."""
    out = tmp_path_factory.mktemp("served-choice")
    result = invoke(
        *("run", "--protocol", "choice", "--backend", "openai-chat", "--base-url", llama_server, "--items", "0-3"),
        *("--data-dir", str(data_dir), "--offline", "--out", str(out / "run"), "--store", str(out / "s.sqlite")),
    )
    assert result.returncode == 0, result.stderr
    return out / "run"


@pytest.fixture(scope="session")
def embedded_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model's run of the first 12 brainbench-human items with every default, scored once per session
    (in this process) into its own store. Tests read it, or compare their own runs of the same command with it."""
    root = tmp_path_factory.mktemp("embedded-run")
    result = invoke(*embedded_run_args(data_dir, root / "run", root / "store.sqlite"))
    assert result.returncode == 0, result.stderr
    return root / "run"


def tiny_llama(tokenizer: Any, context: int, **config: Any) -> Any:
    """A small random Llama (2 layers of width 32, seeded) for ``tokenizer``; ``config`` adds to its LlamaConfig."""
    import torch
    import transformers

    torch.manual_seed(0)
    settings = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=context,
        **config,
    )
    return transformers.LlamaForCausalLM(settings)


def save_tiny_llama(path: Path, tokenizer: Any, context: int, **config: Any) -> Path:
    """``tiny_llama`` with ``tokenizer``, saved as a local model folder."""
    tiny_llama(tokenizer, context, **config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, embedded_scorer: Any) -> Path:
    """A small random Llama with the embedded model's tokenizer and a 64-token context."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), embedded_scorer.tokenizer, 64)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's browser tests (each opens its own context: cookies apart)."""
    from playwright.sync_api import sync_playwright

    from tests.report.test_report import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
