"""Evaluation runs: the run spec, planning, scoring every case into the results store, the run directory and its
summary."""

from brainbench.runs.config import ResolvedModel, RunConfig, RunRequest, resolve_model
from brainbench.runs.execute import execute_run, run_benchmark
from brainbench.runs.plan import RunPlan, plan_run
from brainbench.runs.rundir import RunInfo, load_run, read_results, write_run_dir
from brainbench.runs.spec import RunSpec, ab_labels, presentation_orders
from brainbench.runs.summary import accuracy_by_subfield, summarize
from brainbench.stats import accuracy_stats, wilson_interval

__all__ = [
    "ResolvedModel",
    "RunConfig",
    "RunInfo",
    "RunPlan",
    "RunRequest",
    "RunSpec",
    "ab_labels",
    "accuracy_by_subfield",
    "accuracy_stats",
    "execute_run",
    "load_run",
    "plan_run",
    "presentation_orders",
    "read_results",
    "resolve_model",
    "run_benchmark",
    "summarize",
    "wilson_interval",
    "write_run_dir",
]
