"""brainbench: forward-looking "predict the result" benchmarks of language models (BrainBench, Luo et al. 2024)."""

from __future__ import annotations

from brainbench._version import __version__
from brainbench.data import Dataset, TestCase, inspect_file, load_dataset
from brainbench.runs import ab_labels, load_run, run_benchmark
from brainbench.scoring import load_scorer, resolve_template

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
