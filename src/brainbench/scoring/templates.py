"""Prompt templates: the abstract goes where ``<choice abstract>`` stands, then the prompt is stripped.

METHODS.md describes two of the paper's templates: none (the abstract alone) for GPT-2 and
Galactica-style base models, and an ``[INST] ... [/INST]`` wrapper for Llama-2 and Mistral that
starts with a literal ``<s>`` on top of the tokenizer's own BOS (a double BOS, as the paper had).
``falcon`` follows Falcon-chat's documented ``User: ... / Falcon:`` turn format; pass the paper's
own template files with ``--template-file`` where exact reproduction of other families matters.
"""

from __future__ import annotations

from pathlib import Path

from brainbench.errors import InputError

SLOT = "<choice abstract>"

TEMPLATES: dict[str, str] = {
    "none": SLOT,
    "llama-2": f"<s>[INST] {SLOT} [/INST]",
    "mistral": f"<s>[INST] {SLOT} [/INST]",
    "falcon": f"User: {SLOT}\nFalcon:",
}


def template_for_model(model_name: str) -> str:
    """The template name the paper used for a model family, guessed from its id or path."""
    name = model_name.lower().replace("_", "-")
    if "llama-2" in name or "llama2" in name:
        return "llama-2"
    if "mistral" in name or "mixtral" in name:
        return "mistral"
    if "falcon" in name and ("chat" in name or "instruct" in name):
        return "falcon"
    return "none"


def load_template_file(path: Path) -> str:
    """Read a user template; it must contain the ``<choice abstract>`` slot exactly once."""
    text = Path(path).read_text(encoding="utf-8")
    count = text.count(SLOT)
    if count != 1:
        raise InputError(path, None, f"a template needs the slot {SLOT} exactly once; found {count}")
    return text


def resolve_template(name: str | None, file: Path | None, model_name: str) -> tuple[str, str]:
    """(template label, template text) from a flag, a file or the model family."""
    if file is not None:
        return f"file:{Path(file).name}", load_template_file(file)
    label = name or template_for_model(model_name)
    if label not in TEMPLATES:
        raise InputError("--template", None, f"unknown template {label!r}; known: {', '.join(TEMPLATES)}")
    return label, TEMPLATES[label]


def apply_template(template: str, abstract: str) -> str:
    """The paper's prompt: substitute the abstract, then strip surrounding whitespace."""
    return template.replace(SLOT, abstract).strip()
