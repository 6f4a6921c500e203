"""Scoring backends: texts in, per-token log-likelihoods out (or, with the choice protocol, answers)."""

from brainbench.scoring import backends as _backends  # noqa: F401  (declares the shipped backends)
from brainbench.scoring.base import Scorer, TokenScores, perplexity
from brainbench.scoring.registry import (
    REGISTRY,
    backend_options,
    get_backend,
    load_chooser,
    load_scorer,
    model_identity,
)
from brainbench.scoring.templates import Template, apply_template, resolve_template

__all__ = [
    "REGISTRY",
    "Scorer",
    "Template",
    "TokenScores",
    "apply_template",
    "backend_options",
    "get_backend",
    "load_chooser",
    "load_scorer",
    "model_identity",
    "perplexity",
    "resolve_template",
]
