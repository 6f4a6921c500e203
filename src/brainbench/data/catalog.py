"""The published datasets brainbench knows by name."""

from __future__ import annotations

from dataclasses import dataclass

_TESTCASES_REPO = "https://raw.githubusercontent.com/braingpt-lovelab/brainbench_testcases/main"


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    name: str
    filename: str
    sha256: str
    source: str  # the TestCase.source of its cases
    n_items: int
    urls: tuple[str, ...]  # public copies, tried in order; the sha256 decides
    description: str


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="brainbench-human",
            filename="BrainBench_Human_v0.1.csv",
            sha256="a887d3e7242f8047fa53e44beaef121a46c781347fb126355a49f8b1228cc4c1",
            source="human",
            n_items=200,
            urls=(f"{_TESTCASES_REPO}/BrainBench_Human_v0.1.csv",),
            description="200 test cases altered by neuroscience experts (Luo et al. 2024)",
        ),
        DatasetSpec(
            name="brainbench-gpt4",
            filename="BrainBench_GPT-4_v0.1.csv",
            sha256="ce64b4107fde3b66716cf4e7a34b5c9cfc1972f546aaa597573433fae80b6d81",
            source="gpt4",
            n_items=100,
            urls=(f"{_TESTCASES_REPO}/BrainBench_GPT-4_v0.1.csv",),
            description="100 test cases altered by GPT-4 (Luo et al. 2024)",
        ),
    )
}
