"""The paper's Table S3 procedure, written out independently of brainbench (raw arrays, numpy's global
random state), and a stand-in for its 15-model set built from the five released arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression

# The paper's model list (utils/model_list.py), in its order, as Hugging Face ids.
PAPER_ORDER = [
    "facebook/galactica-6.7b",
    "facebook/galactica-30b",
    "facebook/galactica-120b",
    "tiiuae/falcon-40b",
    "tiiuae/falcon-40b-instruct",
    "tiiuae/falcon-180B",
    "tiiuae/falcon-180B-chat",
    "meta-llama/Llama-2-7b-hf",
    "meta-llama/Llama-2-7b-chat-hf",
    "meta-llama/Llama-2-13b-hf",
    "meta-llama/Llama-2-13b-chat-hf",
    "meta-llama/Llama-2-70b-hf",
    "meta-llama/Llama-2-70b-chat-hf",
    "mistralai/Mistral-7B-v0.1",
    "mistralai/Mistral-7B-Instruct-v0.1",
]
RELEASED = ("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1")  # the two of the 15 whose arrays are public
STAND_INS = ("gpt2", "TinyLlama--TinyLlama_v1.1", "lora_r256_a512_finetune_mistral_7b_v01")


def folder(name: str) -> str:
    return name.replace("/", "--")


def published_arrays(data_dir: Path, released: str) -> tuple[np.ndarray, np.ndarray]:
    path = data_dir / "published_results" / released / "human_abstracts"
    return np.load(path / "PPL_A_and_B.npy"), np.load(path / "labels.npy")


def stand_in_set(data_dir: Path) -> dict[str, str]:
    """{paper model (HF id): released folder whose arrays play it}: the two released ones play themselves,
    the other 13 take turns with three other released runs. Not the paper's numbers; the same procedure."""
    return {
        name: folder(name) if name in RELEASED else STAND_INS[index % len(STAND_INS)]
        for index, name in enumerate(PAPER_ORDER)
    }


def _fits(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    coefficients, intercepts = [], []
    for _ in range(5):
        train = np.random.choice(len(x), int(0.8 * len(x)), replace=False)
        model = LogisticRegression(random_state=42).fit(x[train].reshape(-1, 1), y[train])
        coefficients.append(model.coef_[0][0])
        intercepts.append(model.intercept_[0])
    t, p = stats.ttest_1samp(coefficients, 0)
    return {
        "coef_mean": np.mean(coefficients),
        "coef_sem": stats.sem(coefficients),
        "intercept_mean": np.mean(intercepts),
        "t": t,
        "p_one_sided": p / 2,
    }


def paper_table_s3(
    data_dir: Path, arrays_of: dict[str, str], extra: tuple[str, ...] = ()
) -> dict[str, dict[str, float]]:
    """The paper's Table S3: seed numpy once; for each of its 15 models in order, 5 random 80% subsets of
    the 200 items (drawn even when the model has no arrays here), a logistic regression of correct on
    |PPL_A - PPL_B| on each; then the experts (human-made items, confidence rating); then, as brainbench
    does, the ``extra`` released runs in order. ``arrays_of``: {paper model: released folder}."""
    state = np.random.get_state()
    np.random.seed(42)
    try:
        rows = {}
        for name in PAPER_ORDER:
            if name not in arrays_of:
                for _ in range(5):
                    np.random.choice(200, int(0.8 * 200), replace=False)
                continue
            rows[folder(name)] = _arrays_fits(*published_arrays(data_dir, arrays_of[name]))
        trials = pd.read_csv(data_dir / "participant_data.csv")
        trials = trials[trials["journal_section"].str.startswith("human")]
        rows["human experts"] = _fits(trials["confidence"].to_numpy(float), trials["correct"].to_numpy(int))
        for name in extra:
            rows[name] = _arrays_fits(*published_arrays(data_dir, name))
        return rows
    finally:
        np.random.set_state(state)


def _arrays_fits(ppl: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    x = np.abs(ppl[:, 0] - ppl[:, 1])
    y = np.array([int((label == 0 and a < b) or (label == 1 and a > b)) for (a, b), label in zip(ppl, labels)])
    return _fits(x, y)
