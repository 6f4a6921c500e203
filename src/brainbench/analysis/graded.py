"""Graded cases across runs: each run's forecasts against the uniform grid's (one row per model), and each case's
forecast with the truth and the predicted mean on the grid's own scale (one row per model and case).

The forecasts themselves are derived per record (``brainbench.runs.graded``) and summarised per run
(``brainbench.runs.summary.graded_summary``); this module only lays them out as tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from brainbench.analysis.tables import model_key
from brainbench.runs.graded import uniform_forecast
from brainbench.runs.summary import graded_summary

SUMMARY_COLUMNS = [
    "n",
    "mae_relative",
    "mae_relative_uniform",
    "rps",
    "rps_uniform",
    "rps_difference",
    "rps_difference_ci95_low",
    "rps_difference_ci95_high",
    "mean_rank",
    "mean_rank_uniform",
    "coverage_50",
    "coverage_50_ci95_low",
    "coverage_50_ci95_high",
    "interval_mass_50",
    "coverage_50_uniform",
    "interval_mass_50_uniform",
    "coverage_80",
    "coverage_80_ci95_low",
    "coverage_80_ci95_high",
    "interval_mass_80",
    "coverage_80_uniform",
    "interval_mass_80_uniform",
]


def describe_rps_difference(difference: float, low: float, high: float) -> str:
    """'RPS model - uniform: ... (95% CI ...): lower (better) than the uniform grid's', or higher, or not
    distinguishable;
    differences under 0.001 in scientific notation, so that a tiny one does not read as zero."""
    small = max(abs(difference), abs(low), abs(high)) < 1e-3
    shown = [f"{x:+.1e}" if small else f"{x:+.4f}" for x in (difference, low, high)]
    verdict = (
        "lower (better) than the uniform grid's"
        if high < 0
        else "higher (worse) than the uniform grid's"
        if low > 0
        else "not distinguishable from the uniform grid's"
    )
    return f"RPS model - uniform: {shown[0]} (95% CI {shown[1]} to {shown[2]}): {verdict}"


def has_graded(records: Sequence[dict[str, Any]]) -> bool:
    return any(record.get("grid") for record in records)


def graded_table(runs: Mapping[str, Sequence[dict[str, Any]]]) -> pd.DataFrame:
    """One row per run with graded cases: ``graded_summary`` flattened (the uniform grid's values with ``_uniform``)."""
    rows = {}
    for model, records in runs.items():
        summary = graded_summary(records)
        if summary is None:
            continue
        uniform = summary.pop("uniform")
        flat = {key: value for key, value in summary.items() if not isinstance(value, list)}
        for key, value in summary.items():
            if isinstance(value, list):
                flat[f"{key}_low"], flat[f"{key}_high"] = value
        flat |= {f"{key}_uniform": value for key, value in uniform.items() if not isinstance(value, list)}
        rows[model_key(model)] = flat
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=SUMMARY_COLUMNS)
    frame.index.name = "model"
    return frame


def grid_position(value: float, numeric: Sequence[float]) -> float:
    """Where ``value`` lies on a grid: 0 at its lowest value, 1 at its highest (so that grids in any unit share one
    axis)."""
    return (value - numeric[0]) / (numeric[-1] - numeric[0])


def graded_cases(runs: Mapping[str, Sequence[dict[str, Any]]]) -> pd.DataFrame:
    """One row per (model, scored graded case): the truth, the predicted mean and SD (in the case's unit and as grid
    positions, with the uniform grid's mean), the true value's rank, whether it lies in the 50% and 80% intervals, RPS
    and the uniform grid's RPS."""
    rows = []
    for model, records in runs.items():
        for record in records:
            if record["status"] != "ok" or not record.get("forecast"):
                continue
            grid, forecast = record["grid"], record["forecast"]
            numeric, spread = grid["numeric"], grid["numeric"][-1] - grid["numeric"][0]
            rows.append(
                {
                    "model": model_key(model),
                    "item_id": record["item_id"],
                    "subfield": record["subfield"],
                    "unit": grid["unit"],
                    "n_values": len(numeric),
                    "truth": forecast["truth"],
                    "mean": forecast["mean"],
                    "sd": forecast["sd"],
                    "truth_position": grid_position(forecast["truth"], numeric),
                    "mean_position": grid_position(forecast["mean"], numeric),
                    "uniform_mean_position": grid_position(sum(numeric) / len(numeric), numeric),
                    "sd_position": forecast["sd"] / spread,
                    "rank": forecast["rank"],
                    "in_50": forecast["in_50"],
                    "in_80": forecast["in_80"],
                    "rps": forecast["rps"],
                    "rps_uniform": uniform_forecast(grid)["rps"],
                }
            )
    return pd.DataFrame(rows)
