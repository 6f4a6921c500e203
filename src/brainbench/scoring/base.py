"""What every scoring backend returns, and the paper's perplexity rule."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".json", ".model")
_SAMPLE_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class TokenScores:
    """Log-likelihood of one text: every token after the first is scored (natural log). Backends that see the
    whole next-token distribution (transformers) also give, at the same positions, its self-certainty:
    KL(uniform || p(. | x_<t)) = logsumexp(logits) - mean(logits) - ln V, in nats (0 for a uniform guess)."""

    token_logprobs: tuple[float, ...]  # log p(x_t | x_<t) for t = 1..T-1
    n_text_tokens: int  # T, all tokens of the prompt including the unscored first one
    token_certainties: tuple[float, ...] | None = None  # KL(U || p(. | x_<t)) for t = 1..T-1, where known
    # (start, end) character offsets of tokens 1..T-1 in the text, where the tokenizer tells them (transformers' fast
    # tokenizers): what the item explorer needs to put each log-probability on its words, without a tokenizer
    token_offsets: tuple[tuple[int, int], ...] | None = None

    @property
    def self_certainty(self) -> float | None:
        """Mean self-certainty over the scored positions (the higher, the surer the model is of the text)."""
        if not self.token_certainties:
            return None
        return math.fsum(self.token_certainties) / len(self.token_certainties)

    @property
    def n_tokens(self) -> int:
        """Number of scored tokens (T - 1)."""
        return len(self.token_logprobs)

    @property
    def sum_logprob(self) -> float:
        return math.fsum(self.token_logprobs)

    @property
    def nll(self) -> float:
        """Summed negative log-likelihood over the scored tokens."""
        return -self.sum_logprob

    @property
    def ppl(self) -> float:
        """The paper's perplexity: exp of the mean NLL over the scored tokens."""
        return perplexity(self.nll, self.n_tokens)


@dataclass(frozen=True, slots=True)
class TokenStatistics:
    """Per scored token of one text: its log-probability, and the mean and standard deviation of
    log p(z | x_<t) over the vocabulary under the model's own next-token distribution (what
    Min-K%++ measures a token's log-probability against)."""

    token_logprobs: tuple[float, ...]
    token_means: tuple[float, ...]
    token_stds: tuple[float, ...]


def distribution_statistics(log_probs: Any, targets: Any) -> tuple[Any, Any, Any]:
    """(log p(target), mean, std of log p) per row of a [rows, vocab] log-softmax: numpy arrays or torch tensors."""
    probs = log_probs.exp() if hasattr(log_probs, "exp") else np.exp(log_probs)
    mean = (probs * log_probs).sum(-1)
    variance = (probs * log_probs * log_probs).sum(-1) - mean * mean
    target = log_probs[range(len(targets)), targets]
    return target, mean, variance.clip(min=0) ** 0.5


def shared_prefix_length(*sequences: Sequence[int]) -> int:
    """How many leading tokens all the texts share, leaving each at least one token of its own."""
    shortest = min(len(ids) for ids in sequences)
    shared = next((i for i in range(shortest) if len({ids[i] for ids in sequences}) > 1), shortest)
    return min(shared, shortest - 1)


def perplexity(nll: float, n_tokens: int) -> float:
    if n_tokens <= 0:
        return math.nan
    return math.exp(nll / n_tokens)


class Scorer(Protocol):
    """A backend: texts in, one TokenScores per text out, in the same order."""

    name: str  # what the run records as the model
    cases_per_call: int  # how many test cases to hand ``score_options`` at once (each call's are committed together)

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]: ...

    def score_options(self, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
        """Every version of each test case (a group of N >= 2 texts), in order; a backend may share and
        batch work between the versions of a case (their common prefix) and between cases."""
        ...

    def token_statistics(self, texts: Sequence[str]) -> list[TokenStatistics] | None:
        """Per scored token: its log-probability and the mean and spread of the next-token distribution's
        log-probabilities (Min-K%++); None from a backend that does not see the whole distribution (a server)."""
        ...

    def describe(self) -> dict[str, object]:
        """What a run must record to be reproducible (model, revision, dtype, device, ...)."""
        ...

    def identity(self) -> dict[str, object]:
        """What a run's spec records of the model, known before it loads (``backends.model_identity``)."""
        ...

    def fingerprint(self) -> dict[str, object]:
        """What decides the scores (backend, model and its exact weights, adapter, dtype): the
        results store keys scores by it. Engine, device and batch size are left out, since they
        change scores by rounding only."""
        ...


def score_separately(scorer: Scorer, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
    """``score_options`` for a backend that shares nothing between versions: every text scored on its own."""
    scored = iter(scorer.score_texts([text for group in groups for text in group]))
    return [[next(scored) for _ in group] for group in groups]


def weights_fingerprint(path: str | Path) -> str | None:
    """A quick content hash of a local weights file or model folder (size plus first and last
    4 MiB of each weights/config file), or None for a hub id. Quick, because models are large."""
    path = Path(path)
    if not path.exists():
        return None
    files = (
        [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in _WEIGHT_SUFFIXES)
    )
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}:{size}:".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(_SAMPLE_BYTES))
            if size > 2 * _SAMPLE_BYTES:
                handle.seek(size - _SAMPLE_BYTES)
                digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()
