"""Between an abstract and its altered version: the combined ``[[original, altered]]`` text, and the
quality checks a proposed alteration must pass before a human reviews it.

Texts are normalised (Unicode NFC, whitespace runs as one space) before they are checked. An alteration
may not add control or format characters (a zero-width space inside a word, a right-to-left override
that shows reviewers the rest of the paragraph reversed), may not mix scripts inside a word (a Cyrillic
``е`` in a Latin word), and its edits must change more than look-alike or invisible characters; what
non-ASCII remains is shown to reviewers character by character (:func:`describe_character`)."""

from __future__ import annotations

import difflib
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
# control, format (zero-width, bidirectional overrides), private-use, unassigned, surrogate, line/paragraph separators
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
# letters of other scripts that look like Latin ones, and punctuation that looks like ASCII (beyond NFKC's folding)
_LOOK_ALIKES = str.maketrans(
    {
        **dict(zip("АВЕЅІЈКМНОРСТХУ", "ABESIJKMHOPCTXY", strict=True)),  # Cyrillic capitals
        **dict(zip("аеіјорсхуѕһԁԛԝӏ", "aeijopcxyshdqwl", strict=True)),  # Cyrillic small letters
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),  # Greek capitals
        **dict(zip("οικνρτυχ", "oikvptux", strict=True)),  # Greek small letters
        **dict.fromkeys("‐‑‒–—―−", "-"),
        **dict.fromkeys("‘’‚‛´`ˋ", "'"),
        **dict.fromkeys("“”„‟", '"'),
    }
)
_LETTER_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")


def normalise_text(text: str) -> str:
    """``text`` in Unicode NFC with every run of whitespace as one space (how every version is stored)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def describe_character(character: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character as reviewers are shown it."""
    return f"U+{ord(character):04X} {unicodedata.name(character, 'UNNAMED')}"


def hidden_characters(text: str) -> list[str]:
    """The control and format characters of ``text`` (each once, in order)."""
    return list(dict.fromkeys(ch for ch in text if unicodedata.category(ch) in HIDDEN_CATEGORIES))


def look_alike_skeleton(text: str) -> str:
    """``text`` with invisible characters removed, compatibility forms folded (NFKC: fullwidth, mathematical
    letters) and look-alike letters of other scripts read as Latin: two texts with one skeleton look the same."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    return unicodedata.normalize("NFKC", visible).translate(_LOOK_ALIKES)


def _script(character: str) -> str | None:
    if not character.isalpha():
        return None
    name = unicodedata.name(character, "")
    return next((script for script in _LETTER_SCRIPTS if name.startswith(script)), "OTHER")


def mixed_script_words(text: str) -> list[str]:
    """Words of ``text`` that hide a look-alike letter: a run of letters mixing Latin with a letter of another
    alphabet that looks Latin (``dаtaset``, Cyrillic а), or a run of two or more Cyrillic look-alikes only.
    Greek letters standing apart, as science writes them (``κ-opioid``, ``α-synuclein``), are no such word."""
    found = []
    for word in text.split():
        for run in re.findall(r"[^\W\d_]+", word):
            scripts = {_script(ch) for ch in run}
            look_alike = [ch for ch in run if _script(ch) != "LATIN" and ch.translate(_LOOK_ALIKES) != ch]
            if (look_alike and "LATIN" in scripts) or (
                len(run) >= 2 and scripts == {"CYRILLIC"} and len(look_alike) == len(run)
            ):
                found.append(word)
                break
    return found


def text_problems(original: str, altered: str) -> list[str]:
    """Why ``altered`` holds characters a reviewer cannot see or tell apart (empty when none): control and
    format characters or words mixing scripts that the original does not have, or text not in NFC."""
    reasons = []
    if not unicodedata.is_normalized("NFC", altered):
        reasons.append("the text is not in Unicode NFC form: save it again (the page normalises it)")
    added = Counter(ch for ch in altered if unicodedata.category(ch) in HIDDEN_CATEGORIES) - Counter(
        ch for ch in original if unicodedata.category(ch) in HIDDEN_CATEGORIES
    )
    if added:
        reasons.append(
            "holds invisible or control characters ("
            + ", ".join(describe_character(ch) for ch in sorted(added))
            + "): write plain text"
        )
    mixed = [word for word in mixed_script_words(altered) if word not in set(original.split())]
    if mixed:
        word = mixed[0]
        foreign = [ch for ch in word if _script(ch) not in (None, "LATIN") and ch.translate(_LOOK_ALIKES) != ch]
        reasons.append(
            f"mixes alphabets in a word ({word!r}: "
            + ", ".join(describe_character(ch) for ch in dict.fromkeys(foreign))
            + "): a look-alike letter is no edit"
        )
    return reasons


def look_alike_edits(combined: str) -> list[str]:
    """Why edits of ``combined`` differ only by invisible or look-alike characters (one reason per edit)."""
    return [
        f"an edit changes only invisible or look-alike characters ({edit.original!r} -> {edit.altered!r})"
        for edit in parse_combined(combined).edits
        if look_alike_skeleton(edit.original) == look_alike_skeleton(edit.altered)
    ]


@dataclass(frozen=True)
class ReferenceModel:
    """The model of the perplexity-gap check: its ``name`` (recorded with every check) and ``log_ppl(text)``."""

    name: str
    log_ppl: Callable[[str], float]

    @classmethod
    def from_scorer(cls, scorer: Any) -> ReferenceModel:
        """A brainbench scorer as the reference, one text at a time (a web server's threads share it). Its first
        forward pass is made here, in the thread that builds it: made first on one of a server's worker threads,
        every pass on that thread ran about 20 times slower on the CPU (4 s instead of 0.2 s)."""
        lock = threading.Lock()
        scorer.score_texts(["A first forward pass."])

        def log_ppl(text: str) -> float:
            with lock:
                return math.log(scorer.score_texts([text])[0].ppl)

        return cls(str(getattr(scorer, "name", "reference")), log_ppl)


def load_reference_model(model: str = "embedded") -> ReferenceModel:
    """The reference model for the perplexity-gap check: ``embedded`` (SmolLM2-135M, on the CPU) or a
    transformers model id or path."""
    from brainbench.scoring import load_scorer

    scorer = load_scorer("transformers", model=None if model == "embedded" else model, dtype="float32", device="cpu")
    return ReferenceModel.from_scorer(scorer)


def gap_problem(gap: float) -> str | None:
    """Why a perplexity gap (ln PPL altered - original) makes a bad test case, or None."""
    if abs(gap) > MAX_LOG_PPL_GAP:
        return f"the perplexity gap is extreme (ln PPL altered - original = {gap:+.2f}): too easy or garbled"
    return None


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
    compared further), add no HTML markup, add no invisible or control characters and no words that mix
    alphabets, lie in result sentences (not in the first 40% of the abstract: background and methods),
    change more than look-alike characters, not merely negate, keep the sentence count, combine into a
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
    reasons += text_problems(original, altered)
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
    reasons += look_alike_edits(combined)
    edits = parse_combined(combined).edits
    if all(_stems(edit.original) == _stems(edit.altered) for edit in edits):
        reasons.append(
            "a bare negation: the edits only add or remove 'not'/'no' (e.g. 'increased' -> 'did not increase')"
        )
    if log_ppl is not None:
        problem = gap_problem(log_ppl(altered) - log_ppl(original))
        if problem:
            reasons.append(problem)
    return reasons


def _stems(text: str) -> set[str]:
    """The words of ``text`` but negations and auxiliaries, cut to 6 letters (increased ~ increase)."""
    return {word[:6] for word in re.findall(r"[a-z]+|n't", text.lower()) if word not in _NEGATIONS}
