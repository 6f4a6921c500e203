"""TokenScores arithmetic and prompt templates (no model needed)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from brainbench.data import catalog
from brainbench.data.catalog import PROMPT_TEMPLATES
from brainbench.errors import ChecksumError, DatasetNotFoundError, InputError
from brainbench.scoring import TokenScores, resolve_template


def test_token_scores_by_hand() -> None:
    scores = TokenScores(token_logprobs=(-1.0, -2.0, -3.0), n_text_tokens=4)
    assert scores.n_tokens == 3
    assert scores.nll == 6.0
    assert scores.ppl == pytest.approx(math.exp(2.0))


PAPER_TEMPLATES = sorted(PROMPT_TEMPLATES)


def test_the_catalogue_is_the_papers_40_files(data_dir: Path) -> None:
    files = sorted(path.stem for path in (data_dir / "prompt_templates").glob("*.txt"))
    assert files == PAPER_TEMPLATES and len(files) == 40


@pytest.mark.parametrize("name", PAPER_TEMPLATES)
def test_every_paper_model_gets_its_own_file_byte_for_byte(name: str, data_dir: Path, tmp_path: Path) -> None:
    exact = (data_dir / "prompt_templates" / f"{name}.txt").read_bytes().decode("utf-8")
    spellings = [name, name.replace("--", "/"), tmp_path / name, tmp_path / "models" / name.replace("--", "/")]
    for spelling in spellings:
        template = resolve_template(None, None, spelling, data_dir=data_dir, offline=True)
        assert (template.name, template.text, template.chosen_by) == (name, exact, "model id"), spelling
    assert template.sha256 == PROMPT_TEMPLATES[name]
    assert exact.startswith(("You are a neuroscientist", "<s>[INST]", "<|system|>", "<|user|>"))
    assert "You are a neuroscientist with deep knowledge in neuroscience." in exact


def test_fine_tunes_and_adapters_go_by_their_own_names(data_dir: Path) -> None:
    lora = resolve_template(
        None,
        None,
        "mistralai/Mistral-7B-v0.1",
        adapter="adapters/lora_r256_a512_finetune_mistral_7b_v01",
        data_dir=data_dir,
        offline=True,
    )
    assert (lora.name, lora.chosen_by) == ("lora_r256_a512_finetune_mistral_7b_v01", "adapter")
    base = resolve_template(
        None, None, "mistralai/Mistral-7B-v0.1", adapter="adapters/my-own-lora", data_dir=data_dir, offline=True
    )
    assert (base.name, base.chosen_by) == ("mistralai--Mistral-7B-v0.1", "model id")
    assert (
        resolve_template(None, None, "/hf/hub/models--tiiuae--falcon-40b", data_dir=data_dir, offline=True).name
        == "tiiuae--falcon-40b"
    )
    assert (
        resolve_template(None, None, "TIIUAE/Falcon-40B", data_dir=data_dir, offline=True).name == "tiiuae--falcon-40b"
    )


@pytest.mark.parametrize(
    "model", [None, "", "HuggingFaceTB/SmolLM2-135M-Instruct", "path/to/model.gguf", "Qwen/Qwen2.5-7B"]
)
def test_other_models_get_the_papers_generic_template(model: str | None, data_dir: Path) -> None:
    template = resolve_template(None, None, model, data_dir=data_dir, offline=True)
    assert (template.name, template.chosen_by) == ("gpt2", "generic")
    assert template.apply("An abstract.\n") == (
        "You are a neuroscientist with deep knowledge in neuroscience. Here is an abstract from a neuroscience "
        "publication: An abstract."
    )


def test_template_flag(data_dir: Path) -> None:
    bare = resolve_template("none", None, "mistralai/Mistral-7B-v0.1", data_dir=data_dir, offline=True)
    assert (bare.name, bare.text, bare.apply(" An abstract. ")) == ("none", "<choice abstract>", "An abstract.")
    mistral = resolve_template("mistralai/Mistral-7B-v0.1", None, "gpt2", data_dir=data_dir, offline=True)
    assert mistral.name == "mistralai--Mistral-7B-v0.1" and mistral.chosen_by == "--template"
    # the literal <s> stays in the prompt: the tokenizer adds its own BOS before it (the paper's double BOS)
    assert mistral.apply("An abstract.") == (
        "<s>[INST]\nYou are a neuroscientist with deep knowledge in neuroscience.\n\n"
        "Here is an abstract from a neuroscience publication:\n\n[/INST] An abstract."
    )
    with pytest.raises(InputError, match="unknown template 'mistral'.*Did you mean"):
        resolve_template("mistral", None, "gpt2", data_dir=data_dir, offline=True)
    with pytest.raises(InputError, match="unknown template 'llama3'"):
        resolve_template("llama3", None, "gpt2", data_dir=data_dir, offline=True)


def test_template_file(tmp_path: Path) -> None:
    good = tmp_path / "t.txt"
    good.write_bytes(b"Question: which is real?\r\n<choice abstract>\n")
    template = resolve_template(None, good, "gpt2")
    assert template.name == "file:t.txt" and template.chosen_by == "--template-file"
    assert template.apply("X") == "Question: which is real?\r\nX"  # byte for byte: no newline translation
    bad = tmp_path / "bad.txt"
    bad.write_text("no slot", encoding="utf-8")
    with pytest.raises(InputError, match="bad.txt: a template needs the slot <choice abstract> exactly once; found 0"):
        resolve_template(None, bad, "gpt2")


def test_templates_are_fetched_like_datasets(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No mirror: the cache, else a download checked by sha256 (from a real server on 127.0.0.1)."""
    from tests.data.test_fetch import serve_folder

    with serve_folder(tmp_path / "served") as (base, root):
        (root / "prompt_templates").mkdir()
        shutil.copy(data_dir / "prompt_templates" / "gpt2.txt", root / "prompt_templates" / "gpt2.txt")
        (root / "prompt_templates" / "mistralai--Mistral-7B-v0.1.txt").write_text(
            "<s>[INST] tampered [/INST] <choice abstract>"
        )
        monkeypatch.setattr(catalog, "_EXPERIMENTS_REPO", base)
        cache = tmp_path / "cache"
        template = resolve_template(None, None, "gpt2", cache_dir=cache)
        assert template.sha256 == PROMPT_TEMPLATES["gpt2"]
        assert (cache / "datasets" / "prompt_templates" / "gpt2.txt").is_file()
        with pytest.raises(ChecksumError):
            resolve_template(None, None, "mistralai/Mistral-7B-v0.1", cache_dir=cache)
    assert (
        resolve_template(None, None, "gpt2", cache_dir=cache, offline=True).text == template.text
    )  # from the cache now
    with pytest.raises(DatasetNotFoundError, match="offline"):
        resolve_template(None, None, "meta-llama/Llama-2-7b-hf", cache_dir=cache, offline=True)
