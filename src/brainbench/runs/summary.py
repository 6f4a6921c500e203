"""Accuracy of a run, overall and by subfield: what ``summary.json`` holds. Pure functions."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from brainbench.runs.graded import INTERVALS, uniform_forecast
from brainbench.runs.info import RunInfo
from brainbench.runs.records import chance, choice_stats
from brainbench.stats import accuracy_stats, mean_t_interval, wilson_interval


def accuracy_by_subfield(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Accuracy stats per subfield over scored records, subfields in alphabetical order."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok":
            groups[record["subfield"]].append(record["correct"])
    return {subfield: accuracy_stats(groups[subfield]) for subfield in sorted(groups)}


def scoring_wall_s(records: Iterable[dict[str, Any]]) -> float | None:
    """Wall-clock seconds a run's scoring took: the union of its calls' intervals. The cases of one call were
    committed together (the same ``scored_at``) after the sum of their ``elapsed_s``; shards scoring at once
    overlap and count once, a pause before a resume does not count. None where a record lacks either."""
    calls: dict[str, float] = defaultdict(float)
    for record in records:
        if record.get("scored_at") is None or record.get("elapsed_s") is None:
            return None
        calls[record["scored_at"]] += record["elapsed_s"]
    ends = [(datetime.fromisoformat(at).timestamp(), took) for at, took in calls.items()]
    total, reached = 0.0, -math.inf
    for start, end in sorted((end - took, end) for end, took in ends):
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


def forecast_scores(forecasts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each forecast measure over cases (``brainbench.runs.graded``), coverage with its Wilson 95% CI."""
    n = len(forecasts)
    scores: dict[str, Any] = {
        "mae_relative": sum(f["relative_error"] for f in forecasts) / n,
        "rps": sum(f["rps"] for f in forecasts) / n,
        "mean_rank": sum(f["rank"] for f in forecasts) / n,
    }
    for coverage in INTERVALS:
        percent = round(100 * coverage)
        inside = sum(bool(f[f"in_{percent}"]) for f in forecasts)
        scores[f"coverage_{percent}"] = inside / n
        scores[f"coverage_{percent}_ci95"] = list(wilson_interval(inside, n))
        scores[f"interval_mass_{percent}"] = sum(f[f"mass_{percent}"] for f in forecasts) / n
    return scores


def graded_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The forecasts of a run's scored graded cases against the uniform grid's: mean relative absolute error of
    the predicted mean, mean ranked probability score, 50% and 80% interval coverage (nominal: 0.5 and 0.8; on a
    grid the intervals hold at least that much probability, ``interval_mass_*``), and the paired difference of
    RPS, model - uniform, with a t 95% CI (negative: the model beats ignorance). None without graded cases."""
    graded = [record for record in records if record["status"] == "ok" and record.get("forecast")]
    if not graded:
        return None
    model, uniform = [record["forecast"] for record in graded], [uniform_forecast(record["grid"]) for record in graded]
    differences = [m["rps"] - u["rps"] for m, u in zip(model, uniform)]
    mean_difference, (low, high) = mean_t_interval(differences)
    return {
        "n": len(graded),
        **forecast_scores(model),
        "uniform": forecast_scores(uniform),
        "rps_difference": mean_difference,
        "rps_difference_ci95": [low, high],
    }


def summarize(records: Sequence[dict[str, Any]], run_info: RunInfo, n_requested: int | None = None) -> dict[str, Any]:
    """summary.json: accuracy over scored items (ties count as wrong) against chance, by subfield, timing and the
    run's metadata. ``records`` carry the decisions of one rule (``runs.records.with_decision``).

    Items that could not be scored are counted in ``n_errors`` and left out of the accuracy. Graded cases add
    ``graded`` (``graded_summary``). A run with
    fewer records than the items it was asked for (``n_requested``, default run.json's) is ``partial``.
    """
    scored = [record for record in records if record["status"] == "ok"]
    overall = accuracy_stats([record["correct"] for record in scored])
    timed = [record for record in scored if record.get("elapsed_s") is not None]  # imported results have no timing
    elapsed = sum(record["elapsed_s"] for record in timed)
    wall = scoring_wall_s(timed) if timed else None
    seconds = wall or elapsed  # throughput over the wall clock (shards at once), else over the items' own times
    n_text_tokens = sum(
        option["n_tokens"] + 1 for record in timed for option in record.get("options", ()) if option.get("n_tokens")
    )
    requested = n_requested if n_requested is not None else run_info.n_requested
    return {
        "schema_version": run_info.schema_version,
        "model": run_info.model,
        "dataset": run_info.dataset,
        "n_requested": requested,
        "partial": len(records) < requested,
        "normalisation": scored[0].get("normalisation", "ppl") if scored else "ppl",
        "chance": chance(records),
        "n_items": len(records),
        "n_scored": len(scored),
        "n_errors": sum(record["status"] == "error" for record in records),
        "n_ties": sum(record["choice"] == "tie" for record in scored),
        "n_correct": overall["n_correct"],
        "accuracy": overall["accuracy"],
        "accuracy_sem": overall["accuracy_sem"],
        "accuracy_ci95": overall["accuracy_ci95"],
        "by_subfield": accuracy_by_subfield(scored),
        "scoring_elapsed_s": elapsed,  # the items' own scoring times, added up (over every process)
        "scoring_wall_s": wall,  # the wall clock while they were scored
        "tokens_per_s": n_text_tokens / seconds if seconds > 0 and n_text_tokens else None,
        "items_per_s": len(timed) / seconds if seconds > 0 else None,
        "errors": {str(record["item_id"]): record["error"] for record in records if record["status"] == "error"},
        **({"choice": choice_stats(records)} if run_info.protocol == "choice" else {}),
        **({"graded": graded} if (graded := graded_summary(scored)) else {}),
        "run": run_info.to_json(),
    }
