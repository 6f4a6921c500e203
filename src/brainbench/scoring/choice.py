"""The choice protocol: the experts' own task, for models that answer rather than score.

A model reads the instructions the experts read (``brainbench.data.task``), abstract A and abstract B (C, D, ...)
and answers with a letter. Its confidence comes from the answer token's log-probabilities where the backend
gives them (P(A), P(B) renormalised over the letters), else from the share of each letter over ``samples``
answers at temperature 1. An answer is read robustly (a letter alone, "Abstract A", "(B)", a sentence that ends
in an answer); a refusal or an answer that cannot be read is kept as such, with its text, never counted as
right or wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from brainbench.data.task import instructions

LETTERS = "ABCDEFGH"
STATUSES = ("answered", "refused", "unreadable")
PROMPT_VERSION = "choice-v1"  # the prompt's name in run specs; its sha256 is of the instructions below
_REFUSAL = re.compile(
    r"\b(i can(?:no|')t|i am (?:not able|unable)|i'm (?:not able|unable)|unable to (?:determine|tell|say)|"
    r"as an ai|cannot (?:determine|tell|say|know)|impossible to (?:tell|say|know|determine))",
    re.IGNORECASE,
)


def messages(versions_shown: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages of one question: the instructions, then each abstract under its letter."""
    abstracts = "\n\n".join(f"Abstract {LETTERS[k]}:\n{text}" for k, text in enumerate(versions_shown))
    return [{"role": "user", "content": f"{instructions(len(versions_shown))}\n\n{abstracts}\n\nAnswer:"}]


def prompt_key(chat: Sequence[Mapping[str, str]]) -> str:
    """The canonical text of a chat, what the results store keys an answer by."""
    return json.dumps(list(chat), sort_keys=True, ensure_ascii=False)


def prompt_template_text() -> str:
    """The prompt with placeholders, recorded (and hashed) in run specs as the protocol's template."""
    return prompt_key(messages(["<abstract A>", "<abstract B>"]))


@dataclass(frozen=True)
class Answer:
    """A model's answer to one question: the letter read (None if refused or unreadable), the probability of each
    letter (from log-probabilities or the share of samples; None when neither is known), and every raw text."""

    status: str  # answered, refused or unreadable
    letter: str | None
    probabilities: dict[str, float] | None
    texts: tuple[str, ...]
    source: str = "logprobs"  # logprobs, samples or none
    attempts: int = 1
    extra: dict[str, object] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        return {
            "status": self.status,
            "letter": self.letter,
            "probabilities": self.probabilities,
            "texts": list(self.texts),
            "source": self.source,
            "attempts": self.attempts,
        }


def read_answer(text: str, n_letters: int = 2) -> tuple[str, str | None]:
    """(status, letter) of an answer's text: a letter alone, "Abstract A", "(B)", "Option B", "The answer is A.", a
    reply that opens with "A)" or "B." and explains, a sentence that ends in an answer; a refusal; or unreadable
    (no letter, or two different ones in play)."""
    letters = LETTERS[:n_letters]
    clean = text.strip().strip("*`'\" ")
    alone = re.fullmatch(rf"\(?([{letters}])\)?[.:!]?", clean)
    if alone:
        return "answered", alone.group(1)
    named = {
        match.group(1)
        for match in re.finditer(
            rf"\b(?:abstract|option|answer(?: is)?|version)\s*[:\-]?\s*\(?([{letters}])\)?(?![\w])",
            clean,
            re.IGNORECASE,
        )
    }
    # a reply that opens with a formatted letter ("A)", "B.", "A:" or the letter on its own line) has answered;
    # what follows is its explanation, which may well mention the other abstract
    opening = re.match(rf"\(?([{letters}])(?:\)|[.:]|[ \t]*\n)", clean)
    if opening:
        return ("answered", opening.group(1)) if named <= {opening.group(1)} else ("unreadable", None)
    if len(named) == 1:
        return "answered", named.pop()
    if _REFUSAL.search(clean):
        return "refused", None
    if not named:
        first = re.match(rf"\(?([{letters}])\)?(?:[\s.:,)]|$)", clean)
        last = re.search(rf"(?:^|\s)\(?([{letters}])\)?[.!]?\s*$", clean)
        found = {match.group(1) for match in (first, last) if match}
        if len(found) == 1:
            return "answered", found.pop()
    return "unreadable", None


def letter_probabilities(
    steps: Sequence[Mapping[str, float]], generated: Sequence[str], n_letters: int = 2
) -> dict[str, float] | None:
    """P(letter) from the generated tokens' top log-probabilities: at the first generated token that is a
    letter (spaces, brackets and quotes around it allowed), the alternatives that are letters, renormalised.
    ``steps[i]`` maps candidate token texts to log-probabilities at generated position i; None if no letter shows."""
    letters = LETTERS[:n_letters]

    def letter_of(token: str) -> str | None:
        core = token.strip().strip("()*'\"`").strip()
        return core if len(core) == 1 and core in letters else None

    for token, alternatives in zip(generated, steps):
        if letter_of(token) is None:
            continue
        mass = {letter: 0.0 for letter in letters}
        for candidate, logprob in alternatives.items():
            letter = letter_of(candidate)
            if letter is not None and logprob is not None and math.isfinite(logprob):
                mass[letter] += math.exp(logprob)
        total = sum(mass.values())
        return {letter: value / total for letter, value in mass.items()} if total > 0 else None
    return None


def combine_answers(
    answers: Sequence[tuple[Sequence[int], Mapping[str, object]]], n_versions: int
) -> dict[str, object]:
    """The decision over the orders a case was asked in (``(shown, answer record)`` pairs; ``shown[k]``: the
    version at letter k): each order's letter probabilities mapped back to the versions and averaged; orders
    without a readable answer left out. An answer without probabilities counts as certain of its letter."""
    per_version = [0.0] * n_versions
    used = 0
    for shown, answer in answers:
        if answer["status"] != "answered":
            continue
        probabilities = answer.get("probabilities") or {
            LETTERS[k]: float(LETTERS[k] == answer["letter"]) for k in range(len(shown))
        }
        for position, version in enumerate(shown):
            per_version[version] += float(probabilities.get(LETTERS[position], 0.0))  # type: ignore[union-attr]
        used += 1
    if not used:
        return {"status": "unanswered"}
    p = [value / used for value in per_version]
    best = max(p)
    winners = [version for version, value in enumerate(p) if value == best]
    return {
        "status": "ok",
        "p_versions": p,
        "chosen_version": winners[0] if len(winners) == 1 else None,
        "correct": winners == [0],
        "p_chosen": best,
        "n_orders_used": used,
    }


@dataclass(frozen=True)
class Generation:
    """One reply: its text, and per generated token its text and the top alternatives' log-probabilities (None
    where the backend gives none)."""

    text: str
    tokens: tuple[str, ...] = ()
    steps: tuple[Mapping[str, float], ...] | None = None


class Generate(Protocol):
    def __call__(self, chat: Sequence[Mapping[str, str]], *, temperature: float, seed: int) -> Generation: ...


def ask(
    generate: Generate,
    chat: Sequence[Mapping[str, str]],
    n_letters: int,
    *,
    samples: int | None = None,
    retries: int = 2,
    seed: int = 0,
) -> Answer:
    """Ask one question. Without ``samples``: greedily, the confidence from the answer token's log-probabilities;
    a refusal or an unreadable reply is asked again up to ``retries`` times (seeds ``seed``, ``seed + 1``, ...).
    With ``samples`` = K: K replies at temperature 1 (seeds ``seed`` ... ``seed + K - 1``, each retried alike), the
    confidence the share of each letter among the readable ones."""
    if samples is None:
        texts: list[str] = []
        for attempt in range(retries + 1):
            reply = generate(chat, temperature=0.0, seed=seed + attempt)
            texts.append(reply.text)
            status, letter = read_answer(reply.text, n_letters)
            if status == "answered":
                probabilities = (
                    letter_probabilities(reply.steps, reply.tokens, n_letters) if reply.steps is not None else None
                )
                return Answer(
                    status, letter, probabilities, tuple(texts), "logprobs" if probabilities else "none", attempt + 1
                )
        return Answer(status, None, None, tuple(texts), "none", retries + 1)
    letters: list[str] = []
    texts, attempts, last_status = [], 0, "unreadable"
    for sample in range(samples):
        for attempt in range(retries + 1):
            reply = generate(chat, temperature=1.0, seed=seed + sample + 1000 * attempt)
            attempts += 1
            texts.append(reply.text)
            last_status, letter = read_answer(reply.text, n_letters)
            if letter is not None:
                letters.append(letter)
                break
    if not letters:
        return Answer(last_status, None, None, tuple(texts), "samples", attempts)
    shares = {LETTERS[k]: letters.count(LETTERS[k]) / len(letters) for k in range(n_letters)}
    majority = max(shares, key=lambda letter: (shares[letter], -LETTERS.index(letter)))
    return Answer("answered", majority, shares, tuple(texts), "samples", attempts, {"n_samples": len(letters)})


class Chooser(Protocol):
    """A backend that answers questions (chat prompts) with letters."""

    name: str
    cases_per_call: int  # questions of how many test cases to ask at once

    def answer(self, chats: Sequence[Sequence[Mapping[str, str]]], n_letters: Sequence[int]) -> list[Answer]: ...

    def describe(self) -> dict[str, object]: ...

    def fingerprint(self) -> dict[str, object]: ...

    def identity(self) -> dict[str, object]: ...
