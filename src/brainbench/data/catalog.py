"""The published files brainbench knows by name: test-case sets and the human study's data."""

from __future__ import annotations

from dataclasses import dataclass

_TESTCASES_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_testcases/main"
_PARTICIPANTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_participant_data/main"
_EXPERIMENTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_experiments/main"
_RESULTS_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_results/main"


@dataclass(frozen=True, slots=True)
class ReferenceFile:
    """A published file, fetched from a mirror, the cache or its public copies and checked by sha256."""

    name: str
    filename: str
    sha256: str
    urls: tuple[str, ...]  # public copies, tried in order; the sha256 decides
    description: str


@dataclass(frozen=True, slots=True)
class DatasetSpec(ReferenceFile):
    """A published set of test cases."""

    source: str  # the TestCase.source of its cases
    n_items: int


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="brainbench-human",
            filename="BrainBench_Human_v0.1.csv",
            sha256="a887d3e7242f8047fa53e44beaef121a46c781347fb126355a49f8b1228cc4c1",
            urls=(f"{_TESTCASES_REPO}/BrainBench_Human_v0.1.csv",),
            description="200 test cases altered by neuroscience experts (Luo et al. 2024)",
            source="human",
            n_items=200,
        ),
        DatasetSpec(
            name="brainbench-gpt4",
            filename="BrainBench_GPT-4_v0.1.csv",
            sha256="ce64b4107fde3b66716cf4e7a34b5c9cfc1972f546aaa597573433fae80b6d81",
            urls=(f"{_TESTCASES_REPO}/BrainBench_GPT-4_v0.1.csv",),
            description="100 test cases altered by GPT-4 (Luo et al. 2024)",
            source="gpt4",
            n_items=100,
        ),
    )
}

REFERENCE_FILES: dict[str, ReferenceFile] = {
    spec.name: spec
    for spec in (
        ReferenceFile(
            name="participants",
            filename="participant_data.csv",
            sha256="d032da7e1405c5a67d6169ed552fb999c7af0e6c980381c436465b14a8574714",
            urls=(f"{_PARTICIPANTS_REPO}/participant_data.csv",),
            description="1514 trials of 171 human experts (Luo et al. 2024)",
        ),
        ReferenceFile(
            name="abstract-ids",
            filename="abstract_id_doi.csv",
            sha256="1936fa07ad24aedfda5716137230616cee3e7734a9511b174a2b073e21790b07",
            urls=(f"{_PARTICIPANTS_REPO}/abstract_id_doi.csv",),
            description="DOI;abstract_id;abstract: the study's abstract numbering",
        ),
        ReferenceFile(
            name="gettysburg",
            filename="gettysburg_address.json",
            sha256="bdfae9b23484cee536a6c411f82270a63374e3e564ffbdb304e8cd219aa237cd",
            urls=(f"{_EXPERIMENTS_REPO}/data/gettysburg_address.json", f"{_RESULTS_REPO}/data/gettysburg_address.json"),
            description="the Gettysburg Address: a text every model has memorised (the memorisation positive control)",
        ),
        ReferenceFile(
            name="publication-dates",
            filename="publication_dates_human_abstracts.npy",
            sha256="c2a4e3a5e0426c7afefbe5410d2ab8e677b211299ba14362877b19fa26d104b9",
            urls=(f"{_RESULTS_REPO}/data/publication_dates_human_abstracts.npy", f"{_EXPERIMENTS_REPO}/data/publication_dates_human_abstracts.npy"),
            description="publication dates of the 200 human-made items, in CSV order (Fig S8)",
        ),
    )
}
