"""The backends brainbench ships, declared once each: name, options, identity and lazy loaders by protocol.

A new backend is one module with its scorer (or chooser) and an ``identify`` function, and one ``register`` here.
Loaders and identities import their module when called, so naming a backend loads no torch or HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brainbench.scoring.base import Scorer
from brainbench.scoring.choice import Chooser
from brainbench.scoring.registry import (
    BackendSpec,
    LlamaCppOptions,
    ServerOptions,
    TransformersOptions,
    register,
)


def _transformers(**options: Any) -> Scorer:
    from brainbench.scoring.hf import HFScorer

    return HFScorer.load(**options)


def _transformers_chat(**options: Any) -> Chooser:
    from brainbench.scoring.hf_chat import HFChooser

    return HFChooser.load(**options)


def _transformers_identity(options: Mapping[str, Any]) -> dict[str, Any]:
    from brainbench.scoring.hf import identify

    return identify(options)


def _transformers_prepare(options: dict[str, Any], local_rank: int | None, offline: bool) -> dict[str, Any]:
    from brainbench.errors import InputError
    from brainbench.scoring.devices import resolve_device
    from brainbench.scoring.hf import ENGINES, check_model_source

    if options.get("engine", "fast") not in ENGINES:
        raise InputError("--engine", None, f"{options['engine']!r}: choose {' or '.join(ENGINES)}")
    check_model_source(options, offline)  # before torch is imported: a model that is not there costs nothing
    device = resolve_device(str(options.get("device") or "auto"), local_rank)
    return options | {"device": device, "offline": offline}


# Backends other than transformers identify their model cheaply, and are not handed the identity.
def _llama_cpp(identity: Any = None, **options: Any) -> Scorer:
    from brainbench.scoring.llamacpp import LlamaCppScorer

    return LlamaCppScorer(**options)


def _llama_cpp_identity(options: Mapping[str, Any]) -> dict[str, Any]:
    from brainbench.scoring.llamacpp import identify

    return identify(options)


def _openai_completions(identity: Any = None, **options: Any) -> Scorer:
    from brainbench.scoring.openai import OpenAICompletionsScorer

    return OpenAICompletionsScorer(**options)


def _openai_chat(identity: Any = None, **options: Any) -> Chooser:
    from brainbench.scoring.openai_chat import OpenAIChatChooser

    return OpenAIChatChooser(**options)


def _server_identity(options: Mapping[str, Any]) -> dict[str, Any]:
    from brainbench.scoring.openai import identify

    return identify(options)


register(
    BackendSpec(
        "transformers",
        TransformersOptions,
        _transformers_identity,
        load_scorer=_transformers,
        load_chooser=_transformers_chat,
        prepare=_transformers_prepare,
    )
)
register(BackendSpec("llama-cpp", LlamaCppOptions, _llama_cpp_identity, load_scorer=_llama_cpp))
register(BackendSpec("openai-completions", ServerOptions, _server_identity, load_scorer=_openai_completions))
register(BackendSpec("openai-chat", ServerOptions, _server_identity, load_chooser=_openai_chat))
