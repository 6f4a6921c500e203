"""Scoring backends: texts in, per-token log-likelihoods out."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from brainbench.errors import BackendError
from brainbench.scoring.base import Scorer, TokenScores, perplexity
from brainbench.scoring.templates import TEMPLATES, apply_template, resolve_template, template_for_model


def _transformers(**options: Any) -> Scorer:
    from brainbench.scoring.hf import HFScorer

    return HFScorer.load(**options)


def _llama_cpp(**options: Any) -> Scorer:
    from brainbench.scoring.llamacpp import LlamaCppScorer

    return LlamaCppScorer(**options)


def _openai_completions(**options: Any) -> Scorer:
    from brainbench.scoring.openai import OpenAICompletionsScorer

    return OpenAICompletionsScorer(**options)


BACKENDS: dict[str, Callable[..., Scorer]] = {
    "transformers": _transformers,
    "llama-cpp": _llama_cpp,
    "openai-completions": _openai_completions,
}


def load_scorer(backend: str = "transformers", **options: Any) -> Scorer:
    """Build a scorer by backend name; options go to that backend (model, dtype, device, adapter, ...)."""
    if backend not in BACKENDS:
        near = difflib.get_close_matches(backend, BACKENDS, n=2, cutoff=0.4)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise BackendError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}.{hint}")
    return BACKENDS[backend](**options)


__all__ = [
    "BACKENDS",
    "TEMPLATES",
    "Scorer",
    "TokenScores",
    "apply_template",
    "load_scorer",
    "perplexity",
    "resolve_template",
    "template_for_model",
]
