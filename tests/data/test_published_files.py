"""The quirks of the released BrainBench files, checked on the real files (the local mirror)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from brainbench.data import load_dataset
from brainbench.data.cases import paper_parse
from brainbench.data.files import inspect_file, load_cases
from brainbench.errors import InputError, InputErrors


@pytest.mark.parametrize("filename", ["BrainBench_Human_v0.1.csv", "BrainBench_GPT-4_v0.1.csv"])
def test_released_columns_are_the_paper_parser_output(data_dir: Path, filename: str) -> None:
    with open(data_dir / filename, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert paper_parse(row["combined_abstract"]) == (row["original_abstract"], row["incorrect_abstract"])


def test_human_file_has_one_error_at_row_62(data_dir: Path) -> None:
    dataset = inspect_file(data_dir / "BrainBench_Human_v0.1.csv")
    assert dataset.n_rows == 200 and len(dataset.cases) == 200
    assert [str(p).split(": row")[0] for p in dataset.errors] == ["BrainBench_Human_v0.1.csv:64: error"]
    assert "read as [[decreased, increased]]" in dataset.errors[0].reason
    assert {p.row for p in dataset.problems} == {62}


def test_gpt4_file_comma_items(data_dir: Path) -> None:
    dataset = inspect_file(data_dir / "BrainBench_GPT-4_v0.1.csv")
    assert dataset.errors == []
    comma_rows = sorted({p.row for p in dataset.warnings if "options contain commas" in p.reason})
    assert comma_rows == [24, 51, 58, 66]
    [row66] = [p for p in dataset.warnings if p.row == 66 and "commas" in p.reason]
    assert "most plausible: [[Cav2.2, but not Cav2.3 | Cav2.3, but not Cav2.2]]" in row66.reason


def test_load_by_name_uses_released_texts(data_dir: Path) -> None:
    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    assert human.name == "brainbench-human" and len(human.cases) == 200
    assert {case.source for case in human.cases} == {"human"}
    assert [case.item_id for case in human.cases] == list(range(200))
    with open(data_dir / "BrainBench_Human_v0.1.csv", encoding="utf-8", newline="") as handle:
        row62 = list(csv.DictReader(handle))[62]
    assert human.cases[62].original == row62["original_abstract"]
    reparsed = load_dataset("brainbench-human", data_dir=data_dir, offline=True, texts="reparsed")
    assert "responses decreased at the PP-DG and SC-CA1 synapses" in reparsed.cases[62].original
    assert "responses increased at the PP-DG and SC-CA1 synapses" in reparsed.cases[62].altered
    gpt4 = load_dataset("brainbench-gpt4", data_dir=data_dir, offline=True)
    assert len(gpt4.cases) == 100 and gpt4.cases[0].source == "gpt4"


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes('doi,journal_section,combined_abstract\na,S,"[[na\xefve, b]]"\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.csv:2: not valid UTF-8 \(byte 0xef at column 10\)"):
        load_cases(path)


def test_unscorable_rows_block_loading_and_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text('doi,journal_section,combined_abstract\na,S,"[[x, y]]"\nb,S,no edit\nc,S,[[p]]\n', encoding="utf-8")
    with pytest.raises(InputErrors) as info:
        load_cases(path)
    assert info.value.problems == [
        "cases.csv:3: error: row 1: no edit found: expected at least one [[original, altered]]",
        "cases.csv:4: error: row 2: '[[p]]' holds 1 option, expected 2 as [[original, altered]] (or N as [[a | b | "
        "c]])",
    ]


def test_known_quirks_are_told_calmly(data_dir: Path, tmp_path: Path) -> None:
    from brainbench.data import known_quirks

    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    [line] = known_quirks(human)
    assert (
        "a known quirk of the published file, scored as the paper did" in line
        and "row 62" in line
        and "error" not in line
    )
    mine = tmp_path / "mine.csv"
    mine.write_text(
        'doi,journal_section,combined_abstract\na,S,"x [[up, down] y"\nb,S,"fine [[up, down]]"\n', encoding="utf-8"
    )
    [line] = known_quirks(load_dataset(mine))
    assert line.startswith("mine.csv: 1 error(s), 0 warning(s) in the file") and f"brainbench validate {mine}" in line
