"""Between an abstract and its altered version: the combined ``[[original, altered]]`` text, and the
quality checks a proposed alteration must pass before a human reviews it."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable

from brainbench.data.cases import parse_combined
from brainbench.data.conditions import split_sentences

_TOKENS = re.compile(r"\s+|\S+")
_NEGATIONS = {"not", "no", "nor", "never", "n't", "did", "does", "do", "was", "were", "is", "are", "un", "non"}
BACKGROUND_SHARE = 0.4  # the first 40% of sentences are background and methods: no edits there
MAX_LENGTH_CHANGE = 0.2  # the altered text may be at most 20% longer or shorter (in words)
MAX_LOG_PPL_GAP = 0.15  # |ln PPL_altered - ln PPL_original| beyond this under the reference model: too easy
_MARKUP = re.compile(
    r"</?[A-Za-z][^<>]*>|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);"
)  # HTML tags and entities


def combine(original: str, altered: str) -> str:
    """The combined text of two versions: each differing run of words as ``[[original, altered]]``.

    A pure insertion or deletion takes in the word before it, so that neither option is empty;
    the result is checked to read back (with brainbench's parser) into exactly the two versions.
    """
    a, b = _TOKENS.findall(original), _TOKENS.findall(altered)
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    pieces: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            pieces.append("".join(a[i1:i2]))
            continue
        first, second = "".join(a[i1:i2]), "".join(b[j1:j2])
        if not first.strip() or not second.strip():  # insertion or deletion: take in the previous word
            previous = pieces.pop() if pieces else ""
            head, word = _split_last_word(previous)
            pieces.append(head)
            first, second = word + first, word + second
        lead = len(first) - len(first.lstrip())
        trail = len(first) - len(first.rstrip())
        pieces.append(
            first[:lead] + f"[[{first.strip()}, {second.strip()}]]" + (first[len(first) - trail :] if trail else "")
        )
    combined = "".join(pieces)
    parsed = parse_combined(combined)
    if parsed.errors or parsed.original != original or parsed.altered != altered:
        problem = "; ".join(parsed.errors) or "an edit holds a comma, so its two options cannot be told apart"
        raise ValueError(f"the two versions do not combine into a readable [[original, altered]] text: {problem}")
    return combined


def _split_last_word(text: str) -> tuple[str, str]:
    match = re.search(r"\S+\s*$", text)
    return (text[: match.start()], text[match.start() :]) if match else (text, "")


def check_alteration(original: str, altered: str, log_ppl: Callable[[str], float] | None = None) -> list[str]:
    """Why a proposed alteration is not a good test case (empty when it passes).

    Edits must keep the length (within 20%; checked first, and a text over twice as long is not
    compared further), add no HTML markup, lie in result sentences (not in the first 40% of the
    abstract: background and methods), not merely negate, keep the sentence count, combine into a
    readable ``[[original, altered]]`` text, and, given a reference model's ``log_ppl``, not be far
    less likely than the original (a gap that large makes the item too easy).
    """
    if original.strip() == altered.strip():
        return ["the alteration changes nothing"]
    reasons = []
    # sizes first: comparing the two versions word by word costs time quadratic in their length
    words_original, words_altered = len(original.split()), len(altered.split())
    if abs(words_altered - words_original) > MAX_LENGTH_CHANGE * words_original:
        reasons.append(f"the length changes too much ({words_original} -> {words_altered} words)")
        if words_altered > 2 * words_original:
            return reasons  # far too long to be worth comparing
    markup = sorted(set(_MARKUP.findall(altered)) - set(_MARKUP.findall(original)))
    if markup:
        reasons.append(f"holds HTML markup ({', '.join(markup[:3])}): write plain text")
    try:
        combined = combine(original, altered)
    except ValueError as error:
        return [*reasons, str(error)]
    sentences = split_sentences(combined)
    if len(split_sentences(original)) != len(split_sentences(altered)):
        reasons.append("the two versions have a different number of sentences")
    background = math.ceil(BACKGROUND_SHARE * len(sentences)) if len(sentences) > 2 else 0
    touched = [index for index, sentence in enumerate(sentences) if "[[" in sentence]
    if any(index < background for index in touched):
        reasons.append(
            f"edits the background or methods (sentence {min(touched) + 1} of {len(sentences)}); only results may "
            "change"
        )
    edits = parse_combined(combined).edits
    if all(_stems(edit.original) == _stems(edit.altered) for edit in edits):
        reasons.append(
            "a bare negation: the edits only add or remove 'not'/'no' (e.g. 'increased' -> 'did not increase')"
        )
    if log_ppl is not None:
        gap = log_ppl(altered) - log_ppl(original)
        if abs(gap) > MAX_LOG_PPL_GAP:
            reasons.append(
                f"the perplexity gap is extreme (ln PPL altered - original = {gap:+.2f}): too easy or garbled"
            )
    return reasons


def _stems(text: str) -> set[str]:
    """The words of ``text`` but negations and auxiliaries, cut to 6 letters (increased ~ increase)."""
    return {word[:6] for word in re.findall(r"[a-z]+|n't", text.lower()) if word not in _NEGATIONS}
