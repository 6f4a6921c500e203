"""Two of the paper's findings across models, which it stated without a table: chat/instruct versions
score below their base models, and accuracy barely grows with size within a family.

Both are computed from whatever runs are given, reading the pairs and sizes from the model names:
a chat/instruct version is the base model's name with a ``-chat``/``-instruct`` part
(``meta-llama--Llama-2-7b-chat-hf`` -> ``meta-llama--Llama-2-7b-hf``), and a size is a name part like
``-7b``, ``-6.7b``, ``-180B`` or ``-135M``; a family is the name without it (base models only). On
the paper's 15 models this gives exactly its pairs (Llama-2 7B/13B/70B, Falcon 40B/180B, Mistral-7B)
and families (Galactica 6.7/30/120B, Llama-2 7/13/70B, Falcon 40/180B).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainbench.analysis.paired import paired_comparison, t_test_of_differences

SIZE_PART = re.compile(r"[-_](\d+(?:\.\d+)?)([bm])(?=$|[-_])", re.IGNORECASE)
TUNED_PART = re.compile(r"[-_](chat|instruct)(?=$|[-_])", re.IGNORECASE)


def parameters_billions(name: str) -> float | None:
    """The parameter count a model's name states, in billions (``-135M`` -> 0.135), or None."""
    match = SIZE_PART.search(name)
    if match is None:
        return None
    return float(match.group(1)) / (1000 if match.group(2).lower() == "m" else 1)


FAMILIES = (  # (family, what its names hold), the first match wins: TinyLlama before Llama-2
    ("Galactica", "galactica"),
    ("Falcon", "falcon"),
    ("TinyLlama", "tinyllama"),
    ("Llama-2", "llama-2"),
    ("Llama-2", "llama2"),
    ("Mistral", "mistral"),
    ("GPT-2", "gpt2"),
    ("GPT-2", "gpt-2"),
    ("Phi", "phi-"),
    ("SmolLM", "smollm"),
)


def model_family(name: str) -> str:
    """A model's family as its name tells it (``meta-llama--Llama-2-7b-chat-hf`` -> ``Llama-2``; a LoRA of Mistral
    named after it -> ``Mistral``); other names give themselves without organisation, size or chat/instruct part."""
    lowered = name.lower()
    for family, part in FAMILIES:
        if part in lowered:
            return family
    bare = name.replace("/", "--").split("--")[-1]
    return TUNED_PART.sub("", SIZE_PART.sub("", bare, count=1), count=1)


def is_tuned(name: str) -> bool:
    """Whether a model's name marks a chat/instruct version (``-chat``, ``-instruct``)."""
    return TUNED_PART.search(name) is not None


def chat_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """(base, chat) for each chat/instruct model among ``names`` whose base model is there too."""
    pairs = []
    for name in names:
        base = TUNED_PART.sub("", name, count=1)
        if base != name and base in names:
            pairs.append((base, name))
    return pairs


def size_families(names: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
    """{family: [(model, billions), ...] smallest first} for base models whose names state a size,
    families of two sizes or more."""
    families: dict[str, list[tuple[str, float]]] = {}
    for name in names:
        size = parameters_billions(name)
        if size is not None and not TUNED_PART.search(name):
            families.setdefault(SIZE_PART.sub("", name, count=1), []).append((name, size))
    return {
        family: sorted(members, key=lambda member: member[1])
        for family, members in families.items()
        if len(members) > 1
    }


def chat_vs_base(results: pd.DataFrame) -> dict[str, Any]:
    """Each chat/instruct model against its base model on the items both scored (``paired_comparison``:
    difference chat - base, bootstrap 95% CI, McNemar's p), and the mean difference over the pairs
    with a t-based 95% CI. ``{"pairs": DataFrame indexed by chat model, "mean_difference": {...}}``,
    or an empty dict when no pair is among the runs."""
    pairs = chat_pairs(list(dict.fromkeys(results["model"])))
    if not pairs:
        return {}
    rows = []
    for base, chat in pairs:
        comparison = paired_comparison(results, chat, base)
        rows.append(
            {
                "chat": chat,
                "base": base,
                **{key: value for key, value in comparison.items() if key not in ("model_a", "model_b")},
            }
        )
    table = (
        pd.DataFrame(rows)
        .set_index("chat")
        .rename(
            columns={
                "accuracy_a": "accuracy_chat",
                "accuracy_b": "accuracy_base",
                "only_a_correct": "only_chat_correct",
                "only_b_correct": "only_base_correct",
            }
        )
    )
    return {"pairs": table, "mean_difference": t_test_of_differences(table["difference"])}


def accuracy_by_size(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Accuracy against parameter count within each family: ``models`` (family, billions, accuracy
    per model) and ``families`` (per family: the slope of accuracy per tenfold more parameters, a least-
    squares line through its sizes, and the largest model minus the smallest on the items both scored,
    with ``paired_comparison``'s bootstrap 95% CI). Empty dict when no family has two sizes."""
    families = size_families(list(dict.fromkeys(results["model"])))
    if not families:
        return {}
    accuracy = results.groupby("model", sort=False)["correct"].mean()
    models, summaries = [], []
    for family, members in families.items():
        sizes = np.array([size for _, size in members])
        values = np.array([accuracy[name] for name, _ in members])
        models += [
            {"model": name, "family": family, "parameters_b": size, "accuracy": float(accuracy[name])}
            for name, size in members
        ]
        (smallest, _), (largest, _) = members[0], members[-1]
        comparison = paired_comparison(results, largest, smallest)
        summaries.append(
            {
                "family": family,
                "sizes_b": ", ".join(f"{size:g}" for size in sizes),
                "smallest": smallest,
                "largest": largest,
                "slope_per_tenfold": float(np.polyfit(np.log10(sizes), values, 1)[0])
                if len(set(sizes)) > 1
                else np.nan,
                "difference": comparison["difference"],  # largest - smallest
                "difference_ci95_low": comparison["difference_ci95_low"],
                "difference_ci95_high": comparison["difference_ci95_high"],
                "mcnemar_p": comparison["mcnemar_p"],
            }
        )
    return {"models": pd.DataFrame(models).set_index("model"), "families": pd.DataFrame(summaries).set_index("family")}
