"""The scoring backends by name: the options each takes (one typed dataclass per backend), the protocols it runs,
what identifies its model before it loads, and how it loads (lazily, so that naming a backend costs no import).

The backends declare themselves in ``brainbench.scoring.backends``; everything here only looks them up, so this
module sits below every backend and imports none of them.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError
from brainbench.scoring.base import Scorer
from brainbench.scoring.choice import Chooser

PROTOCOLS = ("perplexity", "choice")  # score every version's text; or ask the experts' question (choice.py)


@dataclass(frozen=True)
class TransformersOptions:
    model: str | None = None  # a Hugging Face id, a local folder or a .gguf file; None: the embedded model
    gguf_file: str | None = None
    adapter: str | None = None
    revision: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int | None = None  # cases per forward pass (None: sized from free GPU memory; 1 on the CPU)
    engine: str = "fast"
    compile: str = "off"


@dataclass(frozen=True)
class LlamaCppOptions:
    model: str | None = None  # a .gguf file; None: the embedded one
    n_ctx: int = 2048


@dataclass(frozen=True)
class ServerOptions:
    """An OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API)."""

    model: str | None = None  # None: the one model the server serves
    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = 8
    timeout: float = 120.0


@dataclass(frozen=True)
class ChoiceOptions:
    """What every backend of the choice protocol also takes."""

    samples: int | None = None
    retries: int = 2


@dataclass(frozen=True)
class BackendSpec:
    """A backend: its name, its options, what identifies its model before loading, and its loaders by protocol."""

    name: str
    options: type  # a frozen dataclass of the options it takes, with their defaults
    identify: Callable[[Mapping[str, Any]], dict[str, Any]]  # options -> the run spec's record of the model
    load_scorer: Callable[..., Scorer] | None = None  # the perplexity protocol
    load_chooser: Callable[..., Chooser] | None = None  # the choice protocol
    # (options, local rank, offline) -> options checked and resolved before any model loads (e.g. the device, and
    # whether the model is there), given the local rank of a process a launcher started and whether to stay offline
    prepare: Callable[[dict[str, Any], int | None, bool], dict[str, Any]] | None = None

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(
            protocol
            for protocol, loader in zip(PROTOCOLS, (self.load_scorer, self.load_chooser), strict=True)
            if loader is not None
        )

    def defaults(self) -> dict[str, Any]:
        """Every option it takes and its default (the choice options too where it answers questions)."""
        types = [self.options, *([ChoiceOptions] if self.load_chooser is not None else [])]
        return {field.name: field.default for kind in types for field in dataclasses.fields(kind)}


REGISTRY: dict[str, BackendSpec] = {}
OPTION_DEFAULTS: dict[str, Any] = {}  # every option of any backend, and its default


def register(spec: BackendSpec) -> BackendSpec:
    REGISTRY[spec.name] = spec
    OPTION_DEFAULTS.update(spec.defaults())
    return spec


def get_backend(name: str) -> BackendSpec:
    """The backend called ``name``; a misspelt one gets the nearest names."""
    if name not in REGISTRY:
        near = difflib.get_close_matches(name, list(REGISTRY), n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(near)}?" if near else ""
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(REGISTRY)}.{hint}")
    return REGISTRY[name]


def backends_for(protocol: str) -> list[str]:
    return [name for name, spec in REGISTRY.items() if protocol in spec.protocols]


def check_protocol(backend: str, protocol: str) -> None:
    """Whether ``backend`` (a known name: checked first) can run ``protocol``."""
    spec = get_backend(backend)
    if protocol in spec.protocols:
        return
    if protocol == "choice":
        raise BackendError(
            f"--protocol choice: the {backend} backend gives no answers; use {' or '.join(backends_for('choice'))}"
        )
    raise BackendError(f"--backend {backend} answers questions (the choice protocol): add --protocol choice")


def backend_options(backend: str, prefix: str = "", **given: object) -> dict[str, object]:
    """The options in ``given`` that ``backend`` takes; set options it would ignore are an error (named with
    ``prefix``: "--" for command-line flags). ``api_key`` may come from the environment, so it is never an error."""
    taken = get_backend(backend).defaults()
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


def model_identity(backend: str, **options: Any) -> dict[str, Any]:
    """What a run's spec records of its model, known before the model loads (and the same after): backend,
    model (None: the embedded one), GGUF file, revision, a quick hash of local weights and of the adapter,
    and the dtype the scores are computed in (None where a server decides)."""
    return base_identity(backend, options.get("model")) | get_backend(backend).identify(options)


def base_identity(backend: str, model: object) -> dict[str, Any]:
    """An identity with only the backend and model known (the rest None)."""
    return {
        "backend": backend,
        "model": None if model is None else str(model),
        "gguf_file": None,
        "revision": None,
        "weights": None,
        "adapter": None,
        "adapter_weights": None,
        "dtype": None,
    }


def display_name(identity: Mapping[str, Any]) -> str:
    """How tables and run directories name a model (the name its scorer reports once loaded)."""
    from brainbench.scoring.embedded import EMBEDDED_NAME

    name = EMBEDDED_NAME if identity.get("model") is None else str(identity["model"])
    return f"{name}+{Path(identity['adapter']).name}" if identity.get("adapter") else name


def load_scorer(backend: str = "transformers", **options: Any) -> Scorer:
    """Build a scorer by backend name; options go to that backend (model, dtype, device, adapter, ...)."""
    check_protocol(backend, "perplexity")
    return REGISTRY[backend].load_scorer(identity=None, **options)  # type: ignore[misc]


def load_chooser(backend: str = "transformers", **options: Any) -> Chooser:
    """Build a backend for the choice protocol by name; options go to it (model, base_url, samples, retries, ...)."""
    check_protocol(backend, "choice")
    return REGISTRY[backend].load_chooser(identity=None, **options)  # type: ignore[misc]
