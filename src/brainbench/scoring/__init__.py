"""Scoring backends: texts in, per-token log-likelihoods out."""

from brainbench.scoring.backends import BACKEND_OPTIONS, BACKENDS, backend_options, load_scorer, model_identity
from brainbench.scoring.base import Scorer, TokenScores, perplexity
from brainbench.scoring.templates import Template, apply_template, resolve_template

__all__ = [
    "BACKENDS",
    "BACKEND_OPTIONS",
    "Scorer",
    "Template",
    "TokenScores",
    "apply_template",
    "backend_options",
    "load_scorer",
    "model_identity",
    "perplexity",
    "resolve_template",
]
