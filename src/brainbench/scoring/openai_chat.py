"""The choice protocol through any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama-cpp-python's server,
hosted gateways): the experts' question, answered with a letter; the confidence from ``logprobs`` with
``top_logprobs`` where the endpoint returns them, else from ``--samples K`` answers at temperature 1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from brainbench.errors import BackendError
from brainbench.scoring.choice import Answer, Generation, ask
from brainbench.scoring.openai import connect
from brainbench.scoring.registry import base_identity

TOP_LOGPROBS = 20


class OpenAIChatChooser:
    """Asks the choice protocol's questions through an OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        samples: int | None = None,
        retries: int = 2,
        seed: int = 0,
        max_tokens: int = 16,
        max_retries: int = 6,
    ) -> None:
        self.http, self.model, _ = connect(
            base_url, api_key, model, "openai-chat", timeout=timeout, max_retries=max_retries
        )
        self.base_url, self.name = self.http.base_url, self.model
        self.concurrency, self.cases_per_call = concurrency, concurrency
        self.samples, self.retries, self.seed, self.max_tokens = samples, retries, seed, max_tokens

    def describe(self) -> dict[str, object]:
        return {
            "backend": "openai-chat",
            "model": self.model,
            "base_url": self.base_url,
            "samples": self.samples,
            "retries": self.retries,
            "max_tokens": self.max_tokens,
            "top_logprobs": TOP_LOGPROBS,
        }

    def identity(self) -> dict[str, object]:
        return base_identity("openai-chat", self.model)

    def fingerprint(self) -> dict[str, object]:
        return {
            **self.identity(),
            "protocol": "choice",
            "samples": self.samples,
            "retries": self.retries,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
        }

    def generate(self, chat: Sequence[Mapping[str, str]], *, temperature: float, seed: int) -> Generation:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(chat),
            "temperature": temperature,
            "max_tokens": self.max_tokens,
            "seed": seed,
        }
        if self.samples is None:
            body |= {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        answer = self.http.json("POST", "/chat/completions", json=body)
        try:
            choice = answer["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise BackendError(
                f"{self.base_url}/chat/completions: unexpected answer ({error}): {str(answer)[:300]}"
            ) from error
        content = (choice.get("logprobs") or {}).get("content") if self.samples is None else None
        if not content:
            if self.samples is None:
                raise BackendError(
                    f"{self.base_url} returned no log-probabilities for the answer: pass --samples K to take the "
                    "confidence from K answers at temperature 1 instead"
                )
            return Generation(text)
        tokens = tuple(step["token"] for step in content)
        steps = tuple(
            {**{alt["token"]: alt["logprob"] for alt in step.get("top_logprobs") or []}, step["token"]: step["logprob"]}
            for step in content
        )
        return Generation(text, tokens, steps)

    def answer(self, chats: Sequence[Sequence[Mapping[str, str]]], n_letters: Sequence[int]) -> list[Answer]:
        def one(index: int) -> Answer:
            return ask(
                self.generate,
                chats[index],
                n_letters[index],
                samples=self.samples,
                retries=self.retries,
                seed=self.seed,
            )

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, range(len(chats))))
