"""Backends by name: each a lazy factory, its options, and what identifies its model before it loads."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError
from brainbench.scoring.base import Scorer, weights_fingerprint
from brainbench.scoring.choice import Chooser


def _transformers(**options: Any) -> Scorer:
    from brainbench.scoring.hf import HFScorer

    return HFScorer.load(**options)


def _llama_cpp(**options: Any) -> Scorer:
    from brainbench.scoring.llamacpp import LlamaCppScorer

    return LlamaCppScorer(**options)


def _openai_completions(**options: Any) -> Scorer:
    from brainbench.scoring.openai import OpenAICompletionsScorer

    return OpenAICompletionsScorer(**options)


def _transformers_chat(**options: Any) -> Chooser:
    from brainbench.scoring.hf_chat import HFChooser

    return HFChooser.load(**options)


def _openai_chat(**options: Any) -> Chooser:
    from brainbench.scoring.openai_chat import OpenAIChatChooser

    return OpenAIChatChooser(**options)


BACKENDS: dict[str, Callable[..., Scorer]] = {
    "transformers": _transformers,
    "llama-cpp": _llama_cpp,
    "openai-completions": _openai_completions,
}
# Backends for the choice protocol (models that answer the experts' question with a letter).
CHOOSERS: dict[str, Callable[..., Chooser]] = {
    "transformers": _transformers_chat,
    "openai-chat": _openai_chat,
}
CHOICE_OPTIONS = ("samples", "retries")


# The options each backend takes. An option set away from its default for a backend that ignores
# it is an error rather than silently dropped.
BACKEND_OPTIONS = {
    "transformers": ("model", "gguf_file", "adapter", "revision", "dtype", "device", "batch_size", "engine", "compile"),
    "llama-cpp": ("model", "n_ctx"),
    "openai-completions": ("model", "base_url", "api_key", "concurrency", "timeout"),
    "openai-chat": ("model", "base_url", "api_key", "concurrency", "timeout"),
}
OPTION_DEFAULTS: dict[str, object] = {
    "model": None,
    "gguf_file": None,
    "adapter": None,
    "revision": None,
    "dtype": "auto",
    "device": "auto",
    "batch_size": None,
    "engine": "fast",
    "compile": "off",
    "n_ctx": 2048,
    "base_url": None,
    "api_key": None,
    "concurrency": 8,
    "timeout": 120.0,
    "samples": None,
    "retries": 2,
}


def backend_options(backend: str, prefix: str = "", **given: object) -> dict[str, object]:
    """The options in ``given`` that ``backend`` takes; set options it would ignore are an error
    (named with ``prefix``: "--" for command-line flags). ``api_key`` may come from the environment."""
    _check_backend(backend)
    taken = BACKEND_OPTIONS[backend] + (CHOICE_OPTIONS if backend in CHOOSERS else ())
    unknown = sorted(name for name in given if name not in OPTION_DEFAULTS)
    ignored = [
        name
        for name, value in given.items()
        if name in OPTION_DEFAULTS
        and name not in taken
        and name != "api_key"
        and value not in (None, OPTION_DEFAULTS[name])
    ]
    if unknown or ignored:
        names = ", ".join(prefix + (name.replace("_", "-") if prefix else name) for name in unknown + ignored)
        raise BackendError(f"{names}: not an option of the {backend} backend (it takes {', '.join(taken)})")
    return {name: value for name, value in given.items() if name in taken}


def _check_backend(backend: str) -> None:
    known = [*BACKENDS, *(name for name in CHOOSERS if name not in BACKENDS)]
    if backend not in known:
        near = difflib.get_close_matches(backend, known, n=2, cutoff=0.4)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise BackendError(f"unknown backend {backend!r}; known: {', '.join(known)}.{hint}")


def check_protocol(backend: str, protocol: str) -> None:
    """Whether ``backend`` can run ``protocol`` (perplexity: a scorer; choice: a chooser)."""
    if protocol == "choice" and backend not in CHOOSERS:
        raise BackendError(f"--protocol choice: the {backend} backend gives no answers; use {' or '.join(CHOOSERS)}")
    if protocol == "perplexity" and backend not in BACKENDS:
        raise BackendError(f"--backend {backend} answers questions (the choice protocol): add --protocol choice")


def load_chooser(backend: str = "transformers", **options: Any) -> Chooser:
    """Build a backend for the choice protocol by name; options go to it (model, base_url, samples, retries, ...)."""
    check_protocol(backend, "choice")
    return CHOOSERS[backend](**options)


def load_scorer(backend: str = "transformers", **options: Any) -> Scorer:
    """Build a scorer by backend name; options go to that backend (model, dtype, device, adapter, ...)."""
    _check_backend(backend)
    return BACKENDS[backend](**options)


def served_model(base_url: str | None, api_key: str | None = None) -> str:
    """The one model an OpenAI-compatible server serves (asked before anything else, so a server that is down or
    serves several models is found out at once)."""
    from brainbench.scoring.openai import connect

    return connect(base_url, api_key, None, "server", timeout=30, max_retries=1)[1]


def display_name(identity: dict[str, Any]) -> str:
    """How tables and run directories name a model (the name its scorer reports once loaded)."""
    from brainbench.scoring.embedded import EMBEDDED_NAME

    name = EMBEDDED_NAME if identity.get("model") is None else str(identity["model"])
    return f"{name}+{Path(identity['adapter']).name}" if identity.get("adapter") else name


def model_identity(backend: str, **options: Any) -> dict[str, Any]:
    """What a run's spec records of its model, known before the model loads (and the same after): backend,
    model (None: the embedded one), GGUF file, revision, a quick hash of local weights and of the adapter,
    and the dtype the scores are computed in (None where a server decides). Checks the device and dtype."""
    _check_backend(backend)
    model = options.get("model")
    identity: dict[str, Any] = {
        "backend": backend,
        "model": None if model is None else str(model),
        "gguf_file": None,
        "revision": None,
        "weights": None,
        "adapter": None,
        "adapter_weights": None,
        "dtype": None,
    }
    if backend in ("openai-completions", "openai-chat"):  # the server decides weights and precision
        return identity | {
            "model": str(model) if model is not None else served_model(options.get("base_url"), options.get("api_key"))
        }
    from brainbench.scoring.hf import embedded_model_file, resolve_device, resolve_dtype

    local = embedded_model_file() if model is None else Path(str(model))
    if backend == "llama-cpp":
        return identity | {"weights": weights_fingerprint(local)}
    gguf_file = options.get("gguf_file")
    if gguf_file is None and local.suffix.lower() == ".gguf":
        gguf_file = local.name
    weights = local / gguf_file if gguf_file is not None and local.is_dir() else local
    adapter = options.get("adapter")
    device = resolve_device(
        str(options.get("device") or "auto")
    )  # already resolved by a plan: checked again, unchanged
    return identity | {
        "gguf_file": gguf_file,
        "revision": options.get("revision"),
        "weights": weights_fingerprint(weights),
        "adapter": None if adapter is None else str(adapter),
        "adapter_weights": None if adapter is None else weights_fingerprint(adapter),
        "dtype": resolve_dtype(str(options.get("dtype") or "auto"), device),
    }
