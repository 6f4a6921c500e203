"""BrainBench in Inspect (inspect_ai): the choice protocol (``brainbench run --protocol choice``), for models that
answer rather than score.

    inspect eval brainbench/human --model openai-api/vllm/MODEL --model-base-url http://127.0.0.1:8000/v1
    inspect eval src/brainbench/integrations/inspect_task.py@human -T items=0-9 --model ...
    brainbench import-inspect logs/ --out runs/MODEL-inspect

Each test case becomes two samples, one question per order: the versions in the drawn order (the paper's seed-42
A/B order, ``brainbench.runs.spec.presentation_orders``) and reversed, ids ``<item>-0`` and ``<item>-1``. The
question is brainbench's own (``scoring.choice.messages``: the experts' instructions, each abstract under its
letter). As ``brainbench run --protocol choice``, the model is asked greedily, asked again after a refusal or an
unreadable answer (``retries``, seeds ``seed``, ``seed + 1``, ...), and its answer is read by
``scoring.choice.read_answer``; the confidence is P(letter) from the answer token's top log-probabilities where the
provider returns them (else none: the letter then counts as certain). The scorer keeps the whole answer in its
metadata, from which ``brainbench import-inspect`` rebuilds the run's records (``brainbench.integrations.inspect_log``).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageUser, GenerateConfig, ModelOutput
from inspect_ai.scorer import CORRECT, INCORRECT, NOANSWER, Metric, SampleScore, Score, Scorer, Target, metric, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from brainbench._version import __version__
from brainbench.data import Dataset, TestCase, load_dataset
from brainbench.runs.plan import select_cases
from brainbench.runs.spec import presentation_orders
from brainbench.scoring.choice import (
    LETTERS,
    PROMPT_VERSION,
    Answer,
    combine_answers,
    letter_probabilities,
    messages,
    prompt_template_text,
    read_answer,
)
from brainbench.scoring.openai_chat import TOP_LOGPROBS
from brainbench.settings import load_settings

SEED = 42  # the paper's A/B order; also the generation seed, as brainbench run's
RETRIES = 2  # as brainbench run --retries
MAX_TOKENS = 16  # as the openai-chat backend: a letter, or a short sentence around one
TEXTS_KEY = "brainbench_texts"  # the solver leaves every reply's text here for the scorer


@task
def human(
    items: str | int | None = None,
    limit: int | None = None,
    texts: str = "released",
    seed: int = SEED,
    retries: int = RETRIES,
    data_dir: str | None = None,
) -> Task:
    """BrainBench's 200 cases altered by neuroscientists, each asked in both orders (``-T items=0-9``, ``-T limit=N``
    for fewer cases)."""
    return brainbench_task(
        "brainbench-human", items=items, limit=limit, texts=texts, seed=seed, retries=retries, data_dir=data_dir
    )


@task
def gpt4(
    items: str | int | None = None,
    limit: int | None = None,
    texts: str = "released",
    seed: int = SEED,
    retries: int = RETRIES,
    data_dir: str | None = None,
) -> Task:
    """BrainBench's 100 cases altered by GPT-4, each asked in both orders."""
    return brainbench_task(
        "brainbench-gpt4", items=items, limit=limit, texts=texts, seed=seed, retries=retries, data_dir=data_dir
    )


def brainbench_task(
    dataset: str | Path = "brainbench-human",
    *,
    items: str | int | None = None,
    limit: int | None = None,
    texts: str = "released",
    seed: int = SEED,
    retries: int = RETRIES,
    data_dir: str | Path | None = None,
) -> Task:
    """The choice protocol on ``dataset`` (a name or a CSV/JSONL path) as an Inspect task. The dataset comes from
    brainbench's loader: ``data_dir`` or ``BRAINBENCH_DATA_DIR``, then the cache, then a download checked by sha256."""
    # Inspect calls this as an entry point, so, like the CLI, it reads the environment's settings.
    settings = load_settings(data_dir=Path(data_dir) if data_dir else None)
    loaded = load_dataset(
        dataset, data_dir=settings.data_dir, cache_dir=settings.cache_dir, offline=settings.offline, texts=texts
    )  # type: ignore[arg-type]
    cases = select_cases(loaded, None if items is None else str(items), limit)  # Inspect reads -T items=5 as a number
    orders = presentation_orders(loaded.cases, seed)
    return Task(
        dataset=MemoryDataset(question_samples(cases, orders), name=loaded.name),
        solver=ask_until_answered(retries=retries, seed=seed),
        scorer=answer_and_confidence(),
        config=GenerateConfig(
            temperature=0.0, max_tokens=MAX_TOKENS, logprobs=True, top_logprobs=TOP_LOGPROBS, seed=seed
        ),
        metadata=task_metadata(loaded, seed, retries),
    )


def task_metadata(dataset: Dataset, seed: int, retries: int) -> dict[str, Any]:
    """What the log keeps of the run besides its samples (the importer's run spec)."""
    return {
        "brainbench": __version__,
        "protocol": "choice",
        "dataset": dataset.name,
        "dataset_sha256": dataset.sha256,
        "texts": dataset.texts,
        "seed": seed,
        "retries": retries,
        "prompt": PROMPT_VERSION,
        "prompt_sha256": hashlib.sha256(prompt_template_text().encode("utf-8")).hexdigest(),
        "max_tokens": MAX_TOKENS,
        "top_logprobs": TOP_LOGPROBS,
    }


def question_samples(cases: Sequence[TestCase], orders: Mapping[int, tuple[int, ...]]) -> list[Sample]:
    """Two samples per case: its versions in the drawn order (order 0) and reversed (order 1). ``shown[k]`` is the
    version under letter k (version 0 the real one); the target is the real one's letter."""
    samples = []
    for case in cases:
        drawn = orders[case.item_id]
        for order, shown in enumerate((drawn, tuple(reversed(drawn)))):
            [chat] = messages([case.options[version] for version in shown])
            samples.append(
                Sample(
                    input=[ChatMessageUser(content=chat["content"])],
                    target=LETTERS[shown.index(0)],
                    id=f"{case.item_id}-{order}",
                    metadata={
                        "item_id": case.item_id,
                        "doi": case.doi,
                        "subfield": case.subfield,
                        "source": case.source,
                        "order": order,
                        "shown": list(shown),
                    },
                )
            )
    return samples


@solver
def ask_until_answered(retries: int = RETRIES, seed: int = SEED) -> Solver:
    """Ask the question; after a refusal or an unreadable answer ask it afresh, up to ``retries`` more times, with seeds
    ``seed``, ``seed + 1``, ... (as ``scoring.choice.ask`` does for ``brainbench run``). Every reply's text is kept."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        question = list(state.messages)
        texts: list[str] = []
        for attempt in range(retries + 1):
            state.messages = list(question)
            state = await generate(state, tool_calls="none", seed=seed + attempt)
            texts.append(state.output.completion)
            if read_answer(state.output.completion, len(state.metadata["shown"]))[0] == "answered":
                break
        state.store.set(TEXTS_KEY, texts)
        return state

    return solve


def answer_records(scores: Sequence[SampleScore]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(sample metadata, answer record) of each scored question."""
    return [(score.sample_metadata or {}, score.score.metadata or {}) for score in scores]


@metric
def case_accuracy() -> Metric:
    """brainbench's accuracy: each case's answers in both orders combined (``scoring.choice.combine_answers``: P per
    version averaged over the readable answers), over the cases with a readable answer; a tie counts as wrong."""

    def compute(scores: list[SampleScore]) -> float:
        by_item: dict[Any, list[tuple[Sequence[int], Mapping[str, Any]]]] = defaultdict(list)
        for sample, answer in answer_records(scores):
            by_item[sample.get("item_id")].append((sample.get("shown") or (), answer))
        decisions = [combine_answers(answers, len(answers[0][0])) for answers in by_item.values()]
        decided = [decision for decision in decisions if decision["status"] == "ok"]
        return sum(bool(decision["correct"]) for decision in decided) / len(decided) if decided else math.nan

    return compute


@metric
def answered() -> Metric:
    """The share of questions answered with a readable letter (not refused, not unreadable)."""

    def compute(scores: list[SampleScore]) -> float:
        statuses = [answer.get("status") for _, answer in answer_records(scores)]
        return statuses.count("answered") / len(statuses) if statuses else math.nan

    return compute


@metric
def position_bias_a() -> Metric:
    """The share of "A" among the letters answered: 0.5 on pairs for a model without position bias, as every case is
    asked in both orders."""

    def compute(scores: list[SampleScore]) -> float:
        letters = [answer.get("letter") for _, answer in answer_records(scores) if answer.get("status") == "answered"]
        return letters.count("A") / len(letters) if letters else math.nan

    return compute


@scorer(metrics=[case_accuracy(), answered(), position_bias_a()])
def answer_and_confidence() -> Scorer:
    """The answer read as brainbench reads it: C (the real abstract's letter), I (the other) or N (a refusal or an
    unreadable reply); its metadata holds the answer record (status, letter, probabilities, texts, source, attempts)
    and the confidence, P(the letter answered)."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = answer_of(
            state.output, state.store.get(TEXTS_KEY) or [state.output.completion], len(state.metadata["shown"])
        )
        confidence = answer.probabilities.get(answer.letter) if answer.probabilities and answer.letter else None
        value = NOANSWER if answer.letter is None else CORRECT if answer.letter == target.text else INCORRECT
        return Score(
            value=value,
            answer=answer.letter,
            explanation=answer.texts[-1],
            metadata={**answer.record(), "confidence": confidence},
        )

    return score


def answer_of(output: ModelOutput, texts: Sequence[str], n_letters: int) -> Answer:
    """The answer of the last reply (``output``), as ``scoring.choice.ask`` builds it: read from its text, P(letter)
    from its top log-probabilities where the provider gave them; ``texts``: every reply's text, this one last."""
    status, letter = read_answer(output.completion, n_letters)
    if status != "answered":
        return Answer(status, None, None, tuple(texts), "none", len(texts))
    tokens, steps = token_steps(output)
    probabilities = letter_probabilities(steps, tokens, n_letters) if steps else None
    return Answer(status, letter, probabilities, tuple(texts), "logprobs" if probabilities else "none", len(texts))


def token_steps(output: ModelOutput) -> tuple[tuple[str, ...], tuple[dict[str, float], ...]]:
    """(generated tokens, per token its top alternatives' log-probabilities, the token itself included); empty where
    the provider returned no log-probabilities."""
    logprobs = output.choices[0].logprobs if output.choices else None
    if logprobs is None:
        return (), ()
    tokens = tuple(step.token for step in logprobs.content)
    steps = tuple(
        {**{alt.token: alt.logprob for alt in step.top_logprobs or []}, step.token: step.logprob}
        for step in logprobs.content
    )
    return tokens, steps
