"""The experts' task, in one place: the study app shows it to people, the choice protocol to models."""

from __future__ import annotations

QUESTION = "Which abstract is the published one?"
CHOOSE = "Choose the abstract you think is real"
SETTING = (
    "One abstract is as published; the results of the other{s} were changed, "
    "so that {it} still read{s_verb} coherently."
)


def instructions(n_versions: int = 2) -> str:
    """What a model is told, as the experts were: the versions, the question, and how to answer."""
    many = n_versions > 2
    setting = SETTING.format(s="s" if many else "", it="they" if many else "it", s_verb="" if many else "s")
    letters = ", ".join("ABCDEFGH"[: n_versions - 1]) + f" or {'ABCDEFGH'[n_versions - 1]}"
    return (
        f"You will read {n_versions} versions of a neuroscience abstract. {setting} {CHOOSE}.\n"
        f"{QUESTION} Answer with the letter of the abstract ({letters}) only."
    )
