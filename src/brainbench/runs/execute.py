"""Executing a run: score every version of every case into the results store, then export the run directory.

A plan (``brainbench.runs.plan``) says what to score; ``execute_run`` scores what the store does not hold
yet, one batch at a time (score -> record), and exports the run directory (``run.json``, ``results.jsonl``,
``summary.json``) from the store at the end, also when interrupted. Starting the same run again resumes it:
scored texts are never scored again, cases recorded as errors are retried.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.data import Dataset, TestCase
from brainbench.errors import BrainbenchError, StoreUnavailableError
from brainbench.runs.plan import RunPlan, check_out_dir, default_store
from brainbench.runs.records import stored_records
from brainbench.runs.rundir import RESULTS_FILE, SUMMARY_FILE, RunInfo, write_run_dir
from brainbench.runs.spec import RunSpec, presentation_orders
from brainbench.runs.store import ResultsStore
from brainbench.scoring import Scorer, Template, TokenScores
from brainbench.scoring.batching import length_order
from brainbench.scoring.choice import Answer, Chooser
from brainbench.scoring.templates import BARE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What scoring one case gave: every version's scores (or, with the choice protocol, the answer to each
    question asked), or why it could not be scored."""

    case: TestCase
    texts: tuple[str, ...]
    scores: tuple[TokenScores, ...] | None
    error: str | None
    elapsed_s: float
    answers: tuple[Answer, ...] | None = None


def run_info(plan: RunPlan, scorer: Scorer | Chooser, scorer_key: str) -> RunInfo:
    """run.json once the model is loaded: the plan's (``RunPlan.provisional_info``) with what the scorer says."""
    return plan.provisional_info().model_copy(
        update={"model": scorer.name, "scorer": scorer.describe(), "scorer_key": scorer_key}
    )


def execute_run(
    plan: RunPlan, scorer: Scorer | Chooser, *, on_progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Score the plan's cases (those of its shard) that the store lacks, export the run directory, return the summary.

    ``on_progress(done, total)`` is called first with what the store already held, then after every batch.
    A case the backend cannot score is recorded as an error and the run goes on.
    """
    store, out_dir = plan.store, plan.out_dir
    scorer_key = store.register_scorer(scorer.fingerprint(), scorer.describe())
    info = run_info(plan, scorer, scorer_key)
    if plan.overwrite:
        store.forget_run(plan.run_key)
        for name in (RESULTS_FILE, SUMMARY_FILE):
            (out_dir / name).unlink(missing_ok=True)
    store.register_run(plan.run_key, scorer_key, info, plan.run_cases())
    write_run_dir(out_dir, info, None, overwrite=plan.overwrite)

    registered = {case.item_id: case for case in store.run_cases(plan.run_key)}
    mine = [case for case in plan.cases if plan.in_shard(case)]
    stored = store.stored_texts(
        scorer_key, [sha for case in mine for sha in registered[case.item_id].options], plan.spec.protocol
    )
    todo = [case for case in mine if not set(registered[case.item_id].options) <= stored]
    if len(todo) < len(mine):
        logger.info("%d of %d items already in the store %s", len(mine) - len(todo), len(mine), store.display_url)
    if on_progress:
        on_progress(len(mine) - len(todo), len(mine))
    # Backends that batch (or score on several CPU workers) get that many cases per call, of similar length so
    # that little is padded; each call's cases are committed together.
    batch_size = max(1, scorer.cases_per_call)
    if batch_size > 1:
        todo = [todo[index] for index in length_order([max(map(len, case.options)) for case in todo])]
    done = len(mine) - len(todo)
    had_error = {item_id for item_id, case in registered.items() if case.error is not None}
    lost: StoreUnavailableError | None = None
    try:
        for start in range(0, len(todo), batch_size):
            outcomes = score_batch(scorer, plan, todo[start : start + batch_size])
            record(store, plan.run_key, scorer_key, outcomes, had_error)
            done += len(outcomes)
            if on_progress:
                on_progress(done, len(mine))
    except StoreUnavailableError as error:  # the server is gone for good: nothing more can be kept or exported
        lost = error
    finally:  # also on Ctrl-C: the run directory then shows what is done so far, marked partial
        if lost is None:
            summary = export_run(store, plan.run_key, out_dir, item_ids=[case.item_id for case in plan.cases])
    if lost is not None:
        shard = f" (shard {plan.shard[0]}/{plan.shard[1]})" if plan.shard else ""
        raise StoreUnavailableError(
            f"{lost}; it keeps what was scored before: {done} of {len(mine)} items{shard}; run the same command "
            "again once it answers, to resume from there"
        ) from None
    return summary


def score_batch(scorer: Scorer | Chooser, plan: RunPlan, cases: Sequence[TestCase]) -> list[Outcome]:
    """Score the cases in one call (choice protocol: ask their questions); if that fails, each case alone, so that
    only a case the backend cannot score becomes an error."""
    groups = [plan.texts(case) for case in cases]
    started = time.perf_counter()
    try:
        if plan.spec.protocol == "choice":
            chats = [json.loads(text) for texts in groups for text in texts]
            answers = iter(scorer.answer(chats, [case.n_options for case in cases for _ in plan.orders(case)]))  # type: ignore[union-attr]
            done = [(None, tuple(next(answers) for _ in texts)) for texts in groups]
        else:
            done = [(tuple(scores), None) for scores in scorer.score_options(groups)]  # type: ignore[union-attr]
    except BrainbenchError as error:
        if len(cases) > 1:
            return [outcome for case in cases for outcome in score_batch(scorer, plan, [case])]
        return [Outcome(cases[0], groups[0], None, str(error), 0.0)]
    elapsed_s = (time.perf_counter() - started) / len(cases)
    return [
        Outcome(case, texts, scores, None, elapsed_s, answers)
        for case, texts, (scores, answers) in zip(cases, groups, done)
    ]


def record(
    store: ResultsStore, run_key: str, scorer_key: str, outcomes: Sequence[Outcome], had_error: set[int]
) -> None:
    """Commit the scored texts, and each case's error (or that an earlier error is gone)."""
    store.add_scores(
        scorer_key,
        [
            (text, scores, outcome.elapsed_s / len(outcome.texts))
            for outcome in outcomes
            if outcome.scores is not None
            for text, scores in zip(outcome.texts, outcome.scores)
        ],
    )
    store.add_answers(
        scorer_key,
        [
            (text, answer.record(), outcome.elapsed_s / len(outcome.texts))
            for outcome in outcomes
            if outcome.answers is not None
            for text, answer in zip(outcome.texts, outcome.answers)
        ],
    )
    for outcome in outcomes:
        if outcome.error is not None:
            logger.warning("item %d (line %d) not scored: %s", outcome.case.item_id, outcome.case.line, outcome.error)
            store.set_case_error(run_key, outcome.case.item_id, outcome.error)
        elif outcome.case.item_id in had_error:
            store.set_case_error(run_key, outcome.case.item_id, None)


def export_run(
    store: ResultsStore,
    run_key: str,
    out_dir: Path,
    item_ids: Sequence[int] | None = None,
    normalisation: str = "ppl",
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a run directory (run.json, results.jsonl, summary.json) from the store; return the summary.

    ``item_ids`` limits it to those cases (the items a run asked for: fewer records makes it partial);
    cases not scored yet (and without an error) are left out. A directory of another run is refused unless
    ``overwrite``.
    """
    info = store.run_info(run_key)
    if item_ids is not None:
        info = info.model_copy(update={"n_requested": len(item_ids), "items": list(item_ids)})
    records = stored_records(store, run_key, item_ids, normalisation)
    summary = write_run_dir(Path(out_dir), info, records, overwrite=overwrite)
    assert summary is not None
    return summary


def run_benchmark(
    dataset: Dataset,
    scorer: Scorer,
    out_dir: Path,
    *,
    template: Template = BARE,
    seed: int = 42,
    cases: Sequence[TestCase] | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    store: ResultsStore | str | Path | None = None,
    shard: tuple[int, int] | None = None,
    condition: str = "full",
    labels: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """Score ``cases`` (default: all of the dataset) with a loaded scorer into the results store, export them to
    ``out_dir`` and return the summary (the library's one-call run; ``brainbench run`` plans from flags instead).

    ``template`` comes from ``resolve_template`` (the paper's file for the model; default: the bare abstract).
    ``store`` is a ResultsStore, a database URL or a file path (default: the user's store). ``shard=(i, n)``
    scores only the cases whose item id is i modulo n. ``condition`` names what ``dataset`` is (see
    ``brainbench.data.conditions``); ``labels`` replaces the seeded A/B order where the condition drew its own.
    """
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store or default_store())
    spec = RunSpec.build(scorer.identity(), template, dataset, condition=condition, seed=seed)
    plan = RunPlan(
        spec=spec,
        dataset=dataset,
        cases=tuple(dataset.cases if cases is None else cases),
        shown=presentation_orders(dataset.cases, seed, labels),
        template=template,
        out_dir=Path(out_dir),
        store=store,
        shard=shard,
        overwrite=overwrite,
        model_name=scorer.name,
    )
    check_out_dir(plan)
    return execute_run(plan, scorer, on_progress=on_progress)
