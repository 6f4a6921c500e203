"""llama.cpp backend: GGUF models in-process through llama-cpp-python.

llama.cpp computes with the quantized weights as stored (the transformers backend dequantizes
them first, and llama.cpp also rounds activations to 8 bits for quantized matrix products), so
the two backends differ by quantization rounding: ~0.5% in PPL on the embedded Q4_1 model.
``dequantize_gguf`` writes an all-float32 copy of a GGUF file, on which they agree to ~1e-4.
The versions of a case share their token prefix: each continues from the first's KV cache.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainbench.errors import BackendError, ContextLengthError, MissingDependencyError
from brainbench.scoring.base import (
    TokenScores,
    TokenStatistics,
    distribution_statistics,
    shared_prefix_length,
    weights_fingerprint,
)
from brainbench.scoring.embedded import EMBEDDED_NAME, embedded_model_file
from brainbench.scoring.registry import base_identity


def dequantize_gguf(source: str | Path, target: str | Path, metadata: dict[str, object] | None = None) -> Path:
    """Write a copy of the GGUF file ``source`` with every tensor in float32: same model, no quantization.
    ``metadata`` replaces values of existing keys (e.g. ``{"tokenizer.ggml.add_bos_token": True}``)."""
    metadata = dict(metadata or {})
    import gguf

    reader = gguf.GGUFReader(source)
    architecture = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, arch=architecture, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer adds these itself
        value_type = field.types[0]
        value = (
            gguf.LlamaFileType.ALL_F32
            if field.name == gguf.Keys.General.FILE_TYPE
            else metadata.pop(field.name, field.contents())
        )
        writer.add_key_value(
            field.name, value, value_type, sub_type=field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        )
    if metadata:
        raise BackendError(f"{source} has no metadata key(s) {', '.join(metadata)} to replace")
    for tensor in reader.tensors:
        data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        writer.add_tensor(
            tensor.name, np.ascontiguousarray(data, dtype=np.float32), raw_dtype=gguf.GGMLQuantizationType.F32
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(target)


def identify(options: Mapping[str, Any]) -> dict[str, Any]:
    """A GGUF file's identity: a quick hash of its weights."""
    model = options.get("model")
    return {"weights": weights_fingerprint(embedded_model_file() if model is None else Path(str(model)))}


DEFAULT_CONTEXT = 2048  # llama-cpp-python keeps n_ctx x vocab float32 logits with logits_all: keep it modest


class LlamaCppScorer:
    """Scores texts with a GGUF model in llama-cpp-python (``logits_all=True``)."""

    def __init__(
        self, model: str | Path | None = None, *, n_ctx: int = DEFAULT_CONTEXT, n_threads: int | None = None
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependencyError("the llama-cpp backend needs llama-cpp-python: pip install llama-cpp-python")
        from llama_cpp import Llama

        path = Path(model) if model is not None else embedded_model_file()
        if not path.is_file() or path.suffix.lower() != ".gguf":
            raise BackendError(f"{path}: the llama-cpp backend needs a local .gguf file")
        try:
            self.llm = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(), logits_all=True, verbose=False
            )
        except (ValueError, RuntimeError) as error:
            raise BackendError(f"llama.cpp could not load {path}: {error}") from error
        self.name = EMBEDDED_NAME if model is None else str(model)
        self.n_ctx = n_ctx
        self.cases_per_call = 1
        self._info: dict[str, object] = {
            "backend": "llama-cpp",
            "model": self.name,
            "path": str(path),
            "n_ctx": n_ctx,
            "n_threads": self.llm.context_params.n_threads,
            "llama_cpp_python": importlib.metadata.version("llama-cpp-python"),
        }
        self._fingerprint = {"backend": "llama-cpp", "model": self.name, "weights": weights_fingerprint(path)}
        self._identity = base_identity("llama-cpp", model) | identify({"model": model})

    def describe(self) -> dict[str, object]:
        return dict(self._info)

    def fingerprint(self) -> dict[str, object]:
        return dict(self._fingerprint)

    def identity(self) -> dict[str, object]:
        return dict(self._identity)

    def tokenize(self, text: str) -> list[int]:
        """Token ids with the model's default special tokens (a BOS where its GGUF asks for one)."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def _checked(self, text: str, index: int) -> list[int]:
        ids = self.tokenize(text)
        if len(ids) > self.n_ctx:
            raise ContextLengthError(
                f"text {index} has {len(ids)} tokens, more than the llama.cpp context of {self.n_ctx} (n_ctx)"
            )
        if len(ids) < 2:
            raise BackendError(f"text {index} has {len(ids)} token(s); at least 2 are needed to score one")
        return ids

    def _log_softmax(self, n_rows: int) -> np.ndarray:
        """Log-softmax of the first ``n_rows`` rows of logits llama.cpp holds for the context."""
        logits = np.asarray(self.llm.scores[:n_rows], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        return logits - (top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True)))

    def _logprobs(self, ids: Sequence[int]) -> TokenScores:
        """Log-probabilities of ``ids`` (rows 0..n-2 predict tokens 1..n-1)."""
        values = self._log_softmax(len(ids) - 1)[np.arange(len(ids) - 1), ids[1:]]
        if not np.isfinite(values).all():
            raise BackendError(f"{self.name} gave non-finite log-probabilities")
        return TokenScores(tuple(values.tolist()), len(ids))

    def token_statistics(self, texts: Sequence[str]) -> list[TokenStatistics]:
        """Each text's token log-probabilities with their next-token distribution's mean and spread (for Min-K%++)."""
        results = []
        for index, text in enumerate(texts):
            ids = self._checked(text, index)
            self._evaluate(ids)
            logprobs, means, stds = distribution_statistics(self._log_softmax(len(ids) - 1), list(ids[1:]))
            results.append(TokenStatistics(tuple(logprobs.tolist()), tuple(means.tolist()), tuple(stds.tolist())))
        return results

    def _evaluate(self, ids: Sequence[int], keep: int = 0) -> TokenScores:
        """Run ``ids`` through the model, reusing the first ``keep`` tokens already in its KV cache."""
        self.llm.n_tokens = keep  # eval() drops the cache beyond n_tokens and writes logits from there
        self.llm.eval(list(ids[keep:]))
        return self._logprobs(ids)

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        encoded = [self._checked(text, index) for index, text in enumerate(texts)]
        return [self._evaluate(ids) for ids in encoded]

    def score_options(self, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
        """Every version of each case; each after the first continues from the first's KV cache."""
        results = []
        for group in groups:
            encoded = [self._checked(text, index) for index, text in enumerate(group)]
            first = self._evaluate(encoded[0])
            results.append(
                [first]
                + [self._evaluate(ids, keep=max(shared_prefix_length(encoded[0], ids), 0)) for ids in encoded[1:]]
            )
        return results
