"""Test cases and datasets: parse, validate and load BrainBench-format files."""

from brainbench.data.cases import Edit, Problem, TestCase, TextsMode, parse_combined
from brainbench.data.catalog import DATASETS, DatasetSpec
from brainbench.data.files import Dataset, inspect_file, load_cases
from brainbench.data.load import (
    known_quirks,
    load_dataset,
    load_gettysburg,
    load_human_study,
    load_publication_dates,
    reference_file,
)

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "Edit",
    "Problem",
    "TestCase",
    "TextsMode",
    "inspect_file",
    "known_quirks",
    "load_cases",
    "load_dataset",
    "load_gettysburg",
    "load_publication_dates",
    "reference_file",
    "load_human_study",
    "parse_combined",
]
