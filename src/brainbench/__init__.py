"""brainbench: forward-looking "predict the result" benchmarks of language models (BrainBench, Luo et al. 2024)."""

from __future__ import annotations

__version__ = "0.1.0"

from brainbench.data import Dataset, TestCase, inspect_file, load_dataset  # noqa: E402
from brainbench.runs import ab_labels, load_run, run_benchmark  # noqa: E402
from brainbench.scoring import load_scorer, resolve_template  # noqa: E402

__all__ = [
    "Dataset",
    "TestCase",
    "__version__",
    "ab_labels",
    "inspect_file",
    "load_dataset",
    "load_run",
    "load_scorer",
    "resolve_template",
    "run_benchmark",
]
