"""A scripted scorer for orchestration tests only; scoring itself is tested against real models."""

from __future__ import annotations

from collections.abc import Sequence

from brainbench.errors import BackendError
from brainbench.scoring import TokenScores
from brainbench.scoring.base import score_separately


class FakeScorer:
    """Log-prob of each word = -len(word)/10, so longer words mean higher perplexity.

    ``fail_on`` holds substrings: a text containing one raises BackendError.
    ``interrupt_after`` raises KeyboardInterrupt once that many calls have been served.
    ``batch_size`` is how many test cases the runner hands over per call; ``tag`` makes it another
    scorer as far as the results store is concerned.
    """

    name = "fake-scorer"

    def __init__(
        self, fail_on: Sequence[str] = (), interrupt_after: int | None = None, batch_size: int = 1, tag: str = ""
    ) -> None:
        self.fail_on = tuple(fail_on)
        self.tag = tag
        self.cases_per_call = batch_size
        self.interrupt_after = interrupt_after
        self.calls = 0

    def describe(self) -> dict[str, object]:
        return {"backend": "fake"}

    def fingerprint(self) -> dict[str, object]:
        return {"backend": "fake", "tag": self.tag}

    def identity(self) -> dict[str, object]:
        return {"backend": "fake", "model": f"fake-scorer{self.tag}"}

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        results = []
        for text in texts:
            if any(marker in text for marker in self.fail_on):
                raise BackendError("scripted failure")
            words = text.split()
            # self-certainty: surer after short words (any fixed rule will do, unlike the log-likelihoods')
            certainties = tuple(1 / len(word) for word in words[:-1])
            results.append(TokenScores(tuple(-len(word) / 10 for word in words[1:]), len(words), certainties))
        return results

    def token_statistics(self, texts: Sequence[str]) -> None:
        return None

    def score_options(self, groups: Sequence[Sequence[str]]) -> list[list[TokenScores]]:
        return score_separately(self, groups)
