"""Graded cases: the row format and its checks (one test per mistake), and brainbench-graded built from its recipe
and the local brainbench-human, with the recipe's rules (each caught on a broken copy)."""

from __future__ import annotations

import collections
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import GRADED_DATASETS, load_dataset
from brainbench.data.files import parse_cases
from brainbench.data.graded import build_graded, recipe_path
from brainbench.data.grid import number_in

EXAMPLE = {
    "doi": "10.1/x",
    "subfield": "Systems/Circuits",
    "text": "Silencing reduced firing by {value} in layer 5.",
    "values": ["10%", "20%", "35%", "50%", "70%"],
    "numeric": [10, 20, 35, 50, 70],
    "answer": 2,
    "unit": "%",
}
SPEC = GRADED_DATASETS["brainbench-graded"]


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def problems_of(**changes: object) -> list[str]:
    _, _, problems = parse_cases(jsonl({**EXAMPLE, **changes}), source="graded.jsonl", fmt="jsonl")
    return [str(problem) for problem in problems]


def test_a_graded_row_is_an_n_option_case_with_the_real_value_first() -> None:
    _, cases, problems = parse_cases(jsonl(EXAMPLE), source="graded.jsonl", fmt="jsonl")
    assert not problems
    case = cases[0]
    assert case.options == tuple(
        f"Silencing reduced firing by {value} in layer 5." for value in ("35%", "10%", "20%", "50%", "70%")
    )
    assert (
        case.grid.version_order() == (2, 0, 1, 3, 4) and case.grid.unit == "%" and case.subfield == "Systems/Circuits"
    )
    assert case.combined == "Silencing reduced firing by [[35% | 10% | 20% | 50% | 70%]] in layer 5."
    assert case.edits[0].starts == (len("Silencing reduced firing by "),) * 5


def test_csv_with_lists_as_json_reads_the_same() -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXAMPLE))
    writer.writeheader()
    writer.writerow({key: value if isinstance(value, str) else json.dumps(value) for key, value in EXAMPLE.items()})
    _, from_csv, problems = parse_cases(buffer.getvalue(), source="graded.csv", fmt="csv")
    _, from_jsonl, _ = parse_cases(jsonl(EXAMPLE), source="graded.jsonl", fmt="jsonl")
    assert not problems and [(c.options, c.grid) for c in from_csv] == [(c.options, c.grid) for c in from_jsonl]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"text": "Silencing reduced firing in layer 5."},
            "'text' has no {value} slot; a graded case needs exactly one",
        ),
        ({"text": "By {value} and {value}."}, "'text' has 2 {value} slots; a graded case needs exactly one"),
        ({"numeric": [10, 20, 35, 50]}, "'numeric' has 4 number(s) for 5 values"),
        (
            {"numeric": [10, 35, 20, 50, 70]},
            "'numeric' is not sorted from lowest to highest without repeats (10, 35, 20, 50, 70)",
        ),
        ({"numeric": [10, 20, 20, 50, 70]}, "'numeric' is not sorted from lowest to highest without repeats"),
        ({"answer": 5}, "'answer' '5' is not the index of one of the 5 values (0 is the first)"),
        ({"answer": -1}, "'answer' '-1' is not the index of one of the 5 values"),
        (
            {"values": ["10%", "20%"], "numeric": [10, 20], "answer": 0},
            "'values' holds 2 value(s); a graded case needs at least 3",
        ),
        ({"values": ["10%", "20%", "20%", "50%", "70%"]}, "value '20%' is twice in 'values'"),
        ({"values": "10%, 20%"}, "'values' is not a JSON list"),
        ({"numeric": [10, 20, "35", 50, 70]}, "'numeric' must be a list of finite numbers"),
    ],
)
def test_each_mistake_is_an_error_naming_file_and_line(changes: dict, reason: str) -> None:
    found = problems_of(**changes)
    assert any(problem.startswith("graded.jsonl:1: error: row 0: ") and reason in problem for problem in found), found


def test_a_value_that_says_another_number_is_a_warning() -> None:
    _, cases, problems = parse_cases(
        jsonl({**EXAMPLE, "numeric": [10, 20, 30, 50, 70]}), source="graded.jsonl", fmt="jsonl"
    )
    assert cases and [str(p) for p in problems] == [
        "graded.jsonl:1: warning: row 0: value '35%' reads as 35 but 'numeric' says 30"
    ]


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("3–4 Hz", 3.5),
        ("30%-50%", 40),
        ("∼2-fold", 2),
        (">90%", 90),
        ("four", 4),
        ("-70 mV", -70),
        ("1,000 cells", 1000),
        ("several", None),
    ],
)
def test_what_a_value_says_as_a_number(value: str, number: float | None) -> None:
    assert number_in(value) == number


def test_brainbench_graded_builds_from_the_recipe_and_the_local_brainbench_human(data_dir: Path) -> None:
    graded = load_dataset("brainbench-graded", data_dir=data_dir, offline=True)
    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    recipe = [json.loads(line) for line in recipe_path(SPEC).read_text(encoding="utf-8").splitlines()]
    assert not graded.problems and len(graded.cases) == len(recipe) == SPEC.n_items == 27
    assert len({entry["item_id"] for entry in recipe}) == 23
    assert collections.Counter(case.grid.answer for case in graded.cases) == {0: 4, 1: 7, 2: 6, 3: 6, 4: 4}
    by_item = {case.item_id: case for case in human.cases}
    for case, entry in zip(graded.cases, recipe):
        source = by_item[entry["item_id"]]
        assert case.original == source.original  # the true value in the slot gives the published abstract back
        assert case.doi == source.doi and case.subfield == source.subfield and case.source == "graded"
        assert case.grid.values[case.grid.answer] == entry["number"] and 5 <= case.n_options <= 6
    assert "{value}" not in recipe_path(SPEC).read_text(encoding="utf-8")  # the recipe holds no abstract text


def broken_recipe(index: int, **changes: object) -> str:
    lines = recipe_path(SPEC).read_text(encoding="utf-8").splitlines()
    lines[index] = json.dumps({**json.loads(lines[index]), **changes}, ensure_ascii=False)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("index", "changes", "reason"),
    [
        (9, {"answer": 1}, "values[answer] is '2–3', not the number '1–2'"),  # item 52, "1–2" years
        (9, {"numeric": [1.5, 4.5, 2.5, 7, 11]}, "'numeric' is not sorted"),
        (9, {"occurrence": 1}, "'1–2' occurs 1 time(s) in the abstract, no occurrence 1"),
        (9, {"values": ["1–2", "2-3", "4–5", "6–8", "10–12"]}, "value '2-3' is not written like '1–2'"),
        (9, {"numeric": [1.5, 2.5, 4.5, 7, 12]}, "value '10–12' reads as 11 but 'numeric' says 12"),
        (9, {"doi": "10.1523/JNEUROSCI.0000-00.2023"}, "doi 10.1523/JNEUROSCI.0000-00.2023 is not row 52's"),
        (
            9,
            {"what": "how long the effect lasted"},
            "the number is the item's BrainBench edit but `what` does not say so",
        ),
        (
            23,
            {
                "number": "00 ms",
                "values": ["00 ms", "30 ms", "50 ms", "80 ms", "90 ms"],
                "numeric": [0, 30, 50, 80, 90],
                "answer": 0,
            },
            "'00 ms' is part of a longer number (100 ms",
        ),  # item 170, "100 ms"
        (
            5,
            {"values": ["2 weeks", "3 weeks", "4 weeks"], "numeric": [2, 3, 4]},
            "3 values; the recipe's grids have 5-7",
        ),
    ],
)
def test_the_recipe_rules_catch_a_broken_copy(data_dir: Path, index: int, changes: dict, reason: str) -> None:
    base = data_dir / "BrainBench_Human_v0.1.csv"
    dataset = build_graded(
        SPEC,
        broken_recipe(index, **changes),
        base.read_text(encoding="utf-8"),
        recipe_name="recipe.jsonl",
        base_name=base.name,
    )
    found = [str(problem) for problem in dataset.problems]
    assert any(problem.startswith(f"recipe.jsonl:{index + 1}: ") and reason in problem for problem in found), found


def test_validate_names_the_graded_set_and_a_broken_file(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "brainbench-graded", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.stderr
    assert "27 rows, 27 scorable, 0 error(s), 0 warning(s)" in " ".join(result.stderr.split())
    broken = tmp_path / "mine.jsonl"
    broken.write_text(jsonl(EXAMPLE, {**EXAMPLE, "doi": "10.1/y", "answer": 9}), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "mine.jsonl:2: error: row 1: 'answer' '9' is not the index of one of the 5 values" in result.stdout
