"""Evaluation runs: A/B order, scoring every case, the run directory and its summary."""

from brainbench.runs.execute import ab_labels, load_run, read_results, run_benchmark
from brainbench.runs.summary import accuracy_by_subfield, accuracy_stats, summarize, wilson_interval

__all__ = [
    "ab_labels",
    "accuracy_by_subfield",
    "accuracy_stats",
    "load_run",
    "read_results",
    "run_benchmark",
    "summarize",
    "wilson_interval",
]
