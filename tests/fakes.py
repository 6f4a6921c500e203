"""A scripted scorer for orchestration tests only; scoring itself is tested against real models."""

from __future__ import annotations

from collections.abc import Sequence

from brainbench.errors import BackendError
from brainbench.scoring import TokenScores


class FakeScorer:
    """Log-prob of each word = -len(word)/10, so longer words mean higher perplexity.

    ``fail_on`` holds substrings: a text containing one raises BackendError.
    ``interrupt_after`` raises KeyboardInterrupt once that many calls have been served.
    """

    name = "fake-scorer"

    def __init__(self, fail_on: Sequence[str] = (), interrupt_after: int | None = None) -> None:
        self.fail_on = tuple(fail_on)
        self.interrupt_after = interrupt_after
        self.calls = 0

    def describe(self) -> dict[str, object]:
        return {"backend": "fake"}

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        results = []
        for text in texts:
            if any(marker in text for marker in self.fail_on):
                raise BackendError("scripted failure")
            words = text.split()
            results.append(TokenScores(tuple(-len(word) / 10 for word in words[1:]), len(words)))
        return results

    def score_pair(self, first: str, second: str) -> tuple[TokenScores, TokenScores]:
        a, b = self.score_texts([first, second])
        return a, b
