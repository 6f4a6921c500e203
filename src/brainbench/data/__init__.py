"""Test cases and datasets: parse, validate and load BrainBench-format files."""

from brainbench.data.cases import Edit, Problem, TestCase, TextsMode, parse_combined
from brainbench.data.catalog import DATASETS, GRADED_DATASETS, DatasetSpec, GradedSpec
from brainbench.data.files import Dataset, inspect_file, load_cases
from brainbench.data.grid import Grid
from brainbench.data.load import (
    inspect_dataset,
    known_quirks,
    load_dataset,
    load_gettysburg,
    load_human_study,
    load_publication_dates,
    reference_file,
)

__all__ = [
    "DATASETS",
    "GRADED_DATASETS",
    "Dataset",
    "DatasetSpec",
    "Edit",
    "GradedSpec",
    "Grid",
    "Problem",
    "TestCase",
    "TextsMode",
    "inspect_dataset",
    "inspect_file",
    "known_quirks",
    "load_cases",
    "load_dataset",
    "load_gettysburg",
    "load_human_study",
    "load_publication_dates",
    "parse_combined",
    "reference_file",
]
