"""TokenScores arithmetic and prompt templates (no model needed)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from brainbench.errors import InputError
from brainbench.scoring import TokenScores, apply_template, resolve_template, template_for_model


def test_token_scores_by_hand() -> None:
    scores = TokenScores(token_logprobs=(-1.0, -2.0, -3.0), n_text_tokens=4)
    assert scores.n_tokens == 3
    assert scores.nll == 6.0
    assert scores.ppl == pytest.approx(math.exp(2.0))


@pytest.mark.parametrize(
    ("model", "template"),
    [
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2"),
        ("meta-llama/Llama-2-70b-hf", "llama-2"),
        ("mistralai/Mistral-7B-v0.1", "mistral"),
        ("tiiuae/falcon-180B-chat", "falcon"),
        ("tiiuae/falcon-40b", "none"),
        ("facebook/galactica-6.7b", "none"),
        ("gpt2", "none"),
        ("", "none"),
    ],
)
def test_template_by_model_family(model: str, template: str) -> None:
    assert template_for_model(model) == template


def test_apply_template_substitutes_then_strips() -> None:
    label, text = resolve_template("mistral", None, "")
    assert label == "mistral"
    assert apply_template(text, "An abstract. ") == "<s>[INST] An abstract.  [/INST]"
    assert apply_template(resolve_template(None, None, "gpt2")[1], "  An abstract.\n") == "An abstract."


def test_template_file(tmp_path: Path) -> None:
    good = tmp_path / "t.txt"
    good.write_text("Question: which is real?\n<choice abstract>\n", encoding="utf-8")
    label, text = resolve_template(None, good, "gpt2")
    assert label == "file:t.txt" and apply_template(text, "X") == "Question: which is real?\nX"
    bad = tmp_path / "bad.txt"
    bad.write_text("no slot", encoding="utf-8")
    with pytest.raises(InputError, match="bad.txt: a template needs the slot <choice abstract> exactly once; found 0"):
        resolve_template(None, bad, "gpt2")
    with pytest.raises(InputError, match="unknown template 'llama3'"):
        resolve_template("llama3", None, "gpt2")
