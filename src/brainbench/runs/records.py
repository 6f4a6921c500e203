"""The records of a run (one line of ``results.jsonl`` per test case): the raw scores of every version, and the
decision a rule derives from them.

Raw, per version (the real one first): ``sum_logprob`` (nats, every token after the first), ``n_tokens``
(scored tokens), ``n_bytes`` (UTF-8 bytes of the prompt), ``ppl`` and, where the backend gives it,
``self_certainty`` (mean KL(uniform || next-token distribution), ``brainbench.scoring.base``). ``shown``
says which version was at each position (A, B, ...) and ``label`` where the real one was. The decision fields
(``choice``, ``correct``, ``confidence``, ``p_chosen``) follow ``normalisation`` (``brainbench.scoring.rules``);
``with_decision`` derives them again under another rule, without scoring anything. Pairs also keep
the paper's fields: ``nll_original``, ``nll_altered``, ``ntokens_original``, ``ntokens_altered``,
``ppl_original``, ``ppl_altered``, ``ppl_a``, ``ppl_b``. With N > 2 versions ``ppl_altered`` is the
mean PPL of the altered ones. A graded case's record also holds its ``grid`` (values, numbers, answer, unit) and the
``forecast`` derived from it under the rule (``brainbench.runs.graded``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from brainbench.runs.graded import record_forecast
from brainbench.runs.store import ResultsStore, RunCase, StoredScore
from brainbench.scoring.choice import combine_answers
from brainbench.scoring.rules import LETTERS, Decision, OptionScore, decide

RECORD_SCHEMA = 2


def case_fields(case: RunCase, status: str) -> dict[str, Any]:
    fields = {
        "item_id": case.item_id,
        "doi": case.doi,
        "subfield": case.subfield,
        "source": case.source,
        "status": status,
        "label": case.label,
        "n_options": len(case.shown),
        "shown": list(case.shown),
    }
    return fields if case.grid is None else {**fields, "grid": case.grid}


def option_scores(stored: Sequence[StoredScore]) -> list[OptionScore]:
    return [
        OptionScore(s.scores.ppl, s.scores.sum_logprob, s.scores.n_tokens, s.n_bytes, s.scores.self_certainty)
        for s in stored
    ]


def option_fields(option: OptionScore) -> dict[str, Any]:
    fields = {
        "sum_logprob": option.sum_logprob,
        "n_tokens": option.n_tokens,
        "n_bytes": option.n_bytes,
        "ppl": option.ppl,
    }
    if option.self_certainty is not None:
        fields["self_certainty"] = option.self_certainty
    return fields


def scored_record(
    case: RunCase,
    options: Sequence[OptionScore],
    elapsed_s: float | None,
    normalisation: str = "ppl",
    scored_at: str | None = None,
) -> dict[str, Any]:
    """The record of a scored case; ``scored_at``: when its scores were committed (the cases of one call share it)."""
    record = {
        **case_fields(case, "ok"),
        "options": [option_fields(option) for option in options],
        "elapsed_s": elapsed_s,
        **({"scored_at": scored_at} if scored_at is not None else {}),
    }
    return with_decision(record, normalisation)


def _committed_at(times: Sequence[str | None]) -> str | None:
    return None if any(at is None for at in times) else max(times)  # type: ignore[type-var]


def error_record(case: RunCase, message: str) -> dict[str, Any]:
    return {**case_fields(case, "error"), "error": message}


def choice_record(
    case: RunCase, answers: Sequence[dict[str, Any]], elapsed_s: float | None, scored_at: str | None = None
) -> dict[str, Any]:
    """The record of a case asked with the choice protocol: each order's answer (``answers[k]`` to the question in
    order k: ``shown``, then its reverse), their combined probability per version, and the decision. A case with
    no readable answer in any order is ``unanswered``: kept with its texts, counted neither right nor wrong."""
    orders = [case.shown, tuple(reversed(case.shown))][: len(answers)]
    combined = combine_answers(list(zip(orders, answers)), len(case.shown))
    record: dict[str, Any] = {
        **case_fields(case, str(combined["status"])),
        "protocol": "choice",
        "answers": [{"shown": list(order), **answer} for order, answer in zip(orders, answers)],
        "elapsed_s": elapsed_s,
        **({"scored_at": scored_at} if scored_at is not None else {}),
    }
    if combined["status"] != "ok":
        return record
    p = combined["p_versions"]
    chosen = combined["chosen_version"]
    return {
        **record,
        "p_versions": p,
        "choice": "tie" if chosen is None else LETTERS[case.shown.index(chosen)],
        "correct": combined["correct"],
        "confidence": combined["p_chosen"],
        "p_chosen": combined["p_chosen"],
        "difficulty": p[0] - sum(p[1:]) / (len(p) - 1),
        "ppl_original": None,
        "ppl_altered": None,
    }


def _scored_records(
    store: ResultsStore, scorer_key: str, cases: Sequence[RunCase], normalisation: str
) -> list[dict[str, Any]]:
    stored = store.get_scores(scorer_key, [sha for case in cases for sha in case.options])
    records = []
    for case in cases:
        if all(sha in stored for sha in case.options):
            scores = [stored[sha] for sha in case.options]
            elapsed = None if any(s.elapsed_s is None for s in scores) else sum(s.elapsed_s for s in scores)
            scored_at = _committed_at([s.created_at for s in scores])
            records.append(scored_record(case, option_scores(scores), elapsed, normalisation, scored_at))
        elif case.error is not None:
            records.append(error_record(case, case.error))
    return records


def _choice_records(store: ResultsStore, scorer_key: str, cases: Sequence[RunCase]) -> list[dict[str, Any]]:
    stored = store.get_answers(scorer_key, [sha for case in cases for sha in case.options])
    records = []
    for case in cases:
        if all(sha in stored for sha in case.options):
            answers = [stored[sha] for sha in case.options]
            elapsed = None if any(e is None for _, e, _ in answers) else sum(e for _, e, _ in answers)
            scored_at = _committed_at([at for _, _, at in answers])
            records.append(choice_record(case, [answer for answer, _, _ in answers], elapsed, scored_at))
        elif case.error is not None:
            records.append(error_record(case, case.error))
    return records


def stored_records(
    store: ResultsStore, run_key: str, item_ids: Sequence[int] | None = None, normalisation: str = "ppl"
) -> list[dict[str, Any]]:
    """The records of a run in the results store (of its cases in ``item_ids``), decisions under ``normalisation``;
    cases not scored yet (and without an error) are left out."""
    info = store.run_info(run_key)
    cases = store.run_cases(run_key)
    if item_ids is not None:
        wanted = set(item_ids)
        cases = [case for case in cases if case.item_id in wanted]
    if info.protocol == "choice":
        return _choice_records(store, info.scorer_key, cases)
    return _scored_records(store, info.scorer_key, cases, normalisation)


def record_options(record: dict[str, Any]) -> tuple[list[OptionScore], tuple[int, ...]]:
    """(each version's scores, real first; the order shown) of a record, also of one written by an older brainbench."""
    if "options" in record:
        options = [
            OptionScore(o["ppl"], o.get("sum_logprob"), o.get("n_tokens"), o.get("n_bytes"), o.get("self_certainty"))
            for o in record["options"]
        ]
        return options, tuple(record["shown"])

    def old(kind: str) -> OptionScore:
        nll, n = record.get(f"nll_{kind}"), record.get(f"ntokens_{kind}")
        return OptionScore(record[f"ppl_{kind}"], None if nll is None else -nll, n)

    return [old("original"), old("altered")], (1, 0) if record["label"] else (0, 1)


def with_decision(record: dict[str, Any], normalisation: str = "ppl") -> dict[str, Any]:
    """``record`` with its decision fields (and the pair fields) derived under ``normalisation``."""
    if record.get("status", "ok") != "ok" or record.get("protocol") == "choice":  # answers: no rule to choose
        return record
    options, shown = record_options(record)
    decision: Decision = decide(options, shown, normalisation)
    derived: dict[str, Any] = {
        "choice": decision.choice,
        "correct": decision.correct,
        "confidence": decision.confidence,
        "p_chosen": decision.p_chosen,
        "normalisation": normalisation,
        "ppl_original": options[0].ppl,
        "ppl_altered": sum(o.ppl for o in options[1:]) / (len(options) - 1),
    }
    if len(options) == 2:
        original, altered = options
        derived |= {
            "nll_original": None if original.sum_logprob is None else -original.sum_logprob,
            "nll_altered": None if altered.sum_logprob is None else -altered.sum_logprob,
            "ntokens_original": original.n_tokens,
            "ntokens_altered": altered.n_tokens,
            "ppl_a": options[shown[0]].ppl,
            "ppl_b": options[shown[1]].ppl,
        }
    if record.get("grid"):
        derived["forecast"] = record_forecast(options, record["grid"], normalisation)
    return {**record, **derived}


def chance(records: Sequence[dict[str, Any]]) -> float:
    """The accuracy of guessing: the mean of 1/N over the scored cases."""
    scored = [record for record in records if record.get("status", "ok") == "ok"]
    return sum(1 / record.get("n_options", 2) for record in scored) / len(scored) if scored else math.nan


def choice_stats(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The choice protocol's own numbers over a run: how often each letter was answered (a model without position
    bias answers "A" half the time on pairs, whatever the order), the accuracy of each order's answers alone,
    and the answers that were refusals or unreadable, and the cases with no readable answer at all."""
    asked = [record for record in records if record.get("protocol") == "choice"]
    answers = [(k, answer) for record in asked for k, answer in enumerate(record["answers"])]
    letters = [answer["letter"] for _, answer in answers if answer["status"] == "answered"]
    by_order: dict[int, list[bool]] = {}
    for k, answer in answers:
        if answer["status"] == "answered":
            by_order.setdefault(k, []).append(answer["shown"][LETTERS.index(answer["letter"])] == 0)
    return {
        "n_questions": len(answers),
        "letter_shares": {letter: letters.count(letter) / len(letters) for letter in sorted(set(letters))}
        if letters
        else {},
        "position_bias_a": letters.count("A") / len(letters) if letters else math.nan,
        "accuracy_by_order": {
            ("asked order" if k == 0 else "reversed order"): sum(values) / len(values)
            for k, values in sorted(by_order.items())
        },
        "n_refused": sum(answer["status"] == "refused" for _, answer in answers),
        "n_unreadable": sum(answer["status"] == "unreadable" for _, answer in answers),
        "n_unanswered": sum(record["status"] == "unanswered" for record in asked),
        "confidence_from": sorted(
            {answer.get("source", "") for _, answer in answers if answer["status"] == "answered"}
        ),
    }
