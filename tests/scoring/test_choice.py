"""The choice protocol's pieces, worked out by hand: reading answers, letter probabilities, asking with retries
and samples, combining both orders."""

from __future__ import annotations

import math

import pytest

from brainbench.data.task import QUESTION
from brainbench.scoring.choice import Generation, ask, combine_answers, letter_probabilities, messages, read_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", ("answered", "A")),
        (" B.", ("answered", "B")),
        ("(B)", ("answered", "B")),
        ("**A**", ("answered", "A")),
        ("Abstract A", ("answered", "A")),
        ("Answer: B", ("answered", "B")),
        ("The answer is A.", ("answered", "A")),
        ("I think the published one is B", ("answered", "B")),
        ("B) because the effect size is plausible", ("answered", "B")),
        ("A)\nThe published abstract is A. The updated abstract is B.", ("answered", "A")),  # the embedded model's
        ("A.\nAbstract B is the published one", ("unreadable", None)),  # an opening letter contradicted
        ("Option A is the real abstract, not option B", ("unreadable", None)),
        ("I cannot determine which abstract is real.", ("refused", None)),
        ("As an AI, I can't know that.", ("refused", None)),
        ("Both seem plausible to me", ("unreadable", None)),
        ("", ("unreadable", None)),
        ("C", ("unreadable", None)),  # not a letter of a pair
    ],
)
def test_answers_are_read_robustly(text: str, expected: tuple[str, str | None]) -> None:
    assert read_answer(text) == expected


def test_more_letters_for_more_versions() -> None:
    assert read_answer("Abstract C", 3) == ("answered", "C")
    assert "A, B or C" in messages(["x", "y", "z"])[0]["content"]


def test_the_question_is_the_experts() -> None:
    content = messages(["first text", "second text"])[0]["content"]
    assert QUESTION in content and "Abstract A:\nfirst text" in content and "Abstract B:\nsecond text" in content


def test_letter_probabilities_at_the_first_letter_token() -> None:
    steps = [
        {"The": -0.1, "I": -2.5},
        {" answer": -0.05},
        {" B": math.log(0.6), " A": math.log(0.3), "B": math.log(0.05), " C": -5.0},
    ]
    probabilities = letter_probabilities(steps, ["The", " answer", " B"])
    assert probabilities == pytest.approx({"A": 0.3 / 0.95, "B": 0.65 / 0.95})
    assert letter_probabilities([{"x": 0.0}], ["x"]) is None


def scripted(replies: list[Generation]):
    calls = []

    def generate(chat, *, temperature: float, seed: int) -> Generation:
        calls.append((temperature, seed))
        return replies[len(calls) - 1]

    return generate, calls


def test_refusals_are_asked_again_then_kept() -> None:
    generate, calls = scripted(
        [Generation("I cannot tell."), Generation("Hmm."), Generation("B", ("B",), ({"B": -0.2, "A": -1.8},))]
    )
    answer = ask(generate, messages(["x", "y"]), 2, retries=2, seed=7)
    assert (answer.status, answer.letter, answer.attempts) == ("answered", "B", 3) and calls == [
        (0.0, 7),
        (0.0, 8),
        (0.0, 9),
    ]
    assert answer.probabilities == pytest.approx(
        {
            "A": math.exp(-1.8) / (math.exp(-1.8) + math.exp(-0.2)),
            "B": math.exp(-0.2) / (math.exp(-1.8) + math.exp(-0.2)),
        }
    )
    generate, _ = scripted([Generation("I cannot tell.")] * 3)
    refused = ask(generate, messages(["x", "y"]), 2, retries=2)
    assert (refused.status, refused.letter, refused.texts) == ("refused", None, ("I cannot tell.",) * 3)


def test_samples_give_shares() -> None:
    generate, calls = scripted([Generation("A"), Generation("?"), Generation("B"), Generation("A")])
    answer = ask(generate, messages(["x", "y"]), 2, samples=3, retries=1, seed=0)
    assert (
        answer.letter == "A"
        and answer.probabilities == pytest.approx({"A": 2 / 3, "B": 1 / 3})
        and answer.source == "samples"
    )
    assert [temperature for temperature, _ in calls] == [1.0] * 4 and len(set(seed for _, seed in calls)) == 4


def test_both_orders_combined() -> None:
    # asked (altered, original) -> said B with 0.8; asked (original, altered) -> said A with 0.6: P(original) = (0.8 +
    # 0.6) / 2
    answers = [
        ((1, 0), {"status": "answered", "letter": "B", "probabilities": {"A": 0.2, "B": 0.8}}),
        ((0, 1), {"status": "answered", "letter": "A", "probabilities": {"A": 0.6, "B": 0.4}}),
    ]
    combined = combine_answers(answers, 2)
    assert (
        combined["p_versions"] == pytest.approx([0.7, 0.3])
        and combined["correct"]
        and combined["p_chosen"] == pytest.approx(0.7)
    )
    one = combine_answers([answers[0], ((0, 1), {"status": "refused", "letter": None})], 2)
    assert one["p_versions"] == pytest.approx([0.8, 0.2]) and one["n_orders_used"] == 1
    assert combine_answers([((0, 1), {"status": "unreadable", "letter": None})], 2) == {"status": "unanswered"}
