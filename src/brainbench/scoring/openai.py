"""OpenAI-compatible completions backend: let a serving engine (vLLM, llama-cpp-python's server) do the scoring.

Each text is sent as ``POST {base_url}/completions`` with ``echo=True, logprobs=1, max_tokens=1``:
the server returns the log-probability of every prompt token (the first one's is null) and of
the generated token (where the server echoes it), which is dropped. Requests run ``concurrency`` at a time; timeouts,
connection errors, 429 and 5xx answers are retried with exponential backoff. A server that
answers without prompt log-probabilities (llama.cpp's own ``llama-server`` ignores ``echo``) is
refused with an error instead of being scored at chance, and so is one whose log-probabilities
are misaligned with the tokens: before the first text, a counting sequence whose later tokens
any language model predicts well is scored as a probe (llama-cpp-python's server, up to at
least 0.3.36, pairs each echoed token with the distribution that predicts the *next* token).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from brainbench.errors import BackendError
from brainbench.http import RetryingClient
from brainbench.scoring.base import TokenScores, score_separately
from brainbench.scoring.registry import base_identity

PROBE_TEXT = ", ".join(str(n) for n in range(1, 31))  # "1, 2, 3, ..., 30"
PROBE_MIN_MEAN_LOGPROB = -2.0  # over the probe's second half; aligned models score near 0, misaligned far below


def connect(
    base_url: str | None, api_key: str | None, model: str | None, backend: str, **client: Any
) -> tuple[RetryingClient, str, dict[str, Any]]:
    """(client, model name, what the server says of it) for an OpenAI-compatible server: ``model``, or the one model
    it serves when none is named; a server that does not serve it, or serves several, is an error."""
    if not base_url:
        raise BackendError(f"the {backend} backend needs --base-url, e.g. http://127.0.0.1:8000/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    http = RetryingClient(base_url.rstrip("/"), headers=headers, error=BackendError, **client)
    served = {
        entry["id"]: entry
        for entry in http.json("GET", "/models").get("data", [])
        if isinstance(entry, dict) and "id" in entry
    }
    if model is None:
        if len(served) != 1:
            raise BackendError(
                f"{http.base_url} serves {len(served)} models ({', '.join(served) or 'none listed'}); name one with "
                "--model"
            )
        model = next(iter(served))
    elif served and model not in served:
        raise BackendError(f"{http.base_url} does not serve {model!r}; it serves: {', '.join(served)}")
    return http, model, served.get(model, {})


def identify(options: Mapping[str, Any]) -> dict[str, Any]:
    """A served model's identity: its name (asked of the server when none is given, so that a server that is down or
    serves several models is found out at once); the server decides weights and precision."""
    model = options.get("model")
    if model is None:
        model = connect(options.get("base_url"), options.get("api_key"), None, "server", timeout=30, max_retries=1)[1]
    return {"model": str(model)}


class OpenAICompletionsScorer:
    """Scores texts through an OpenAI-compatible ``/completions`` endpoint."""

    def __init__(
        self,
        model: str | None,
        *,
        base_url: str | None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_s: float = 0.5,
    ) -> None:
        self.http, self.model, self._served = connect(
            base_url,
            api_key,
            model,
            "openai-completions",
            timeout=timeout,
            max_retries=max_retries,
            backoff_s=backoff_s,
        )
        self.base_url, self.name = self.http.base_url, self.model
        self.concurrency = concurrency
        self.cases_per_call = concurrency  # one request per text, this many in flight
        self.verify_alignment = True  # the probe runs before the first text is scored

    def check_alignment(self) -> float:
        """Score the probe; refuse a server whose prompt log-probabilities cannot be right."""
        self.verify_alignment = False
        probe = self._request_scores(PROBE_TEXT)
        later = probe.token_logprobs[len(probe.token_logprobs) // 2 :]
        mean = sum(later) / len(later)
        if mean < PROBE_MIN_MEAN_LOGPROB:
            self.verify_alignment = True
            raise BackendError(
                f"{self.base_url}: the prompt log-probabilities fail a sanity check (mean {mean:.2f} nats on the "
                f"easy second half of '1, 2, ..., 30'; a working model scores above {PROBE_MIN_MEAN_LOGPROB}). The "
                "server misaligns echoed tokens and their log-probabilities (llama-cpp-python's server does, up to "
                "at least 0.3.36: use --backend llama-cpp for GGUF files) or the model is broken."
            )
        return mean

    def token_statistics(self, texts: Sequence[str]) -> None:
        """A server gives no next-token distributions: None."""
        return None

    def describe(self) -> dict[str, object]:
        return {
            "backend": "openai-completions",
            "model": self.model,
            "base_url": self.base_url,
            "concurrency": self.concurrency,
            "served": self._served,
        }

    def identity(self) -> dict[str, object]:
        return base_identity("openai-completions", self.model)

    def fingerprint(self) -> dict[str, object]:
        # The server decides weights and precision; what it reports of the model is all there is to key on.
        return {
            "backend": "openai-completions",
            "model": self.model,
            "root": self._served.get("root"),
            "base_url": self.base_url,
        }

    def score_text(self, text: str) -> TokenScores:
        if self.verify_alignment:
            self.check_alignment()
        return self._request_scores(text)

    def _request_scores(self, text: str) -> TokenScores:
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0}
        answer = self.http.json("POST", "/completions", json=body)
        try:
            choice = answer["choices"][0]
            logprobs = choice.get("logprobs") or {}
            values = logprobs.get("token_logprobs") or []
            offsets = logprobs.get("text_offset") or []
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise BackendError(
                f"{self.base_url}/completions: unexpected answer ({error}): {str(answer)[:300]}"
            ) from error
        usage = answer.get("usage") or {}
        # The generated token follows the prompt's: vLLM echoes it (and a BOS, counted in prompt_tokens);
        # llama-cpp-python leaves the BOS out and echoes the generated token only when it had a BOS.
        # So: whatever goes beyond prompt_tokens, or the trailing entries that start at the prompt's end.
        beyond_prompt = max(0, len(values) - usage["prompt_tokens"]) if "prompt_tokens" in usage else 0
        at_end = 0
        while at_end < len(offsets) and offsets[len(offsets) - 1 - at_end] >= len(text):
            at_end += 1
        n_generated = max(beyond_prompt, min(at_end, usage.get("completion_tokens", at_end)))
        echoed = values[: len(values) - n_generated]
        # The echo starts with null(s): the first token's, and the BOS's where the server echoes it.
        prompt = echoed[next((i for i, v in enumerate(echoed) if v is not None), len(echoed)) :]
        if echoed and not prompt and usage.get("prompt_tokens", len(echoed)) <= 2:
            raise BackendError(f"{text!r} is too short: at least 2 tokens are needed to score one")
        if not echoed or echoed[0] is not None or not prompt or any(v is None for v in prompt):
            raise BackendError(
                f"{self.base_url} returned no log-probabilities for the prompt (got {len(values)} values for "
                f"{usage.get('prompt_tokens', '?')} prompt tokens): the server ignores echo=True. vLLM and "
                "llama-cpp-python's server (with --logits_all true) return them; llama.cpp's llama-server does not."
            )
        return TokenScores(tuple(float(v) for v in prompt), usage.get("prompt_tokens") or len(echoed))

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        if self.verify_alignment:
            self.check_alignment()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self.score_text, texts))

    def score_options(self, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
        return score_separately(self, groups)
