"""The combined-format parser and row validation, one test per quirk."""

from __future__ import annotations

import pytest

from brainbench.data.cases import mirror_score, paper_parse, parse_combined, split_options
from brainbench.data.files import parse_cases

HEADER = "doi,journal_section,combined_abstract\n"


def csv_text(*combined: str) -> str:
    rows = [f'10.1/x{i},Systems/Circuits,"{text}"' for i, text in enumerate(combined)]
    return HEADER + "\n".join(rows) + "\n"


def test_single_edit_with_offsets() -> None:
    parsed = parse_combined("Firing rates [[increased, decreased]] after training, and [[more, fewer]] cells fired.")
    assert parsed.original == "Firing rates increased after training, and more cells fired."
    assert parsed.altered == "Firing rates decreased after training, and fewer cells fired."
    assert not parsed.errors and not parsed.warnings and not parsed.repairs
    for edit in parsed.edits:
        assert parsed.original[edit.original_start : edit.original_start + len(edit.original)] == edit.original
        assert parsed.altered[edit.altered_start : edit.altered_start + len(edit.altered)] == edit.altered
    assert [(e.original, e.altered) for e in parsed.edits] == [("increased", "decreased"), ("more", "fewer")]


def test_single_comma_inside_long_options_is_not_ambiguous() -> None:
    parsed = parse_combined("X. [[A rose sharply, B fell, C rose]] Y.")
    # two commas -> two readings; the mirrored one is not obvious, but a warning must name the problem
    assert parsed.warnings and "2 possible splits" in parsed.warnings[0]


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        # the four GPT-4-made items whose options contain commas (rows 24, 51, 58, 66)
        (
            "In contrast, we did not find any, Moreover, we found an",
            ("In contrast, we did not find any", "Moreover, we found an"),
        ),
        (
            "differ at locations across the apex in a pattern consistent with previous studies of the base of the "
            "cochlea, "
            "are uniform across the apex, contradicting previous studies of the base of the cochlea",
            (
                "differ at locations across the apex in a pattern consistent with previous studies of the base of the "
                "cochlea",
                "are uniform across the apex, contradicting previous studies of the base of the cochlea",
            ),
        ),
        (
            "SA-I afferent responses to static torque were inferior to dynamic stimuli in humans, while in monkeys the "
            "opposite was true., SA-I afferent responses to dynamic torque were inferior to static stimuli in humans, "
            "while in monkeys the opposite was true.",
            (
                "SA-I afferent responses to static torque were inferior to dynamic stimuli in humans, while in monkeys "
                "the opposite was true.",
                "SA-I afferent responses to dynamic torque were inferior to static stimuli in humans, while in monkeys "
                "the opposite was true.",
            ),
        ),
        ("Cav2.2, but not Cav2.3, Cav2.3, but not Cav2.2", ("Cav2.2, but not Cav2.3", "Cav2.3, but not Cav2.2")),
    ],
)
def test_comma_options_pick_the_mirrored_split(inner: str, expected: tuple[str, str]) -> None:
    readings, best = split_options(inner)
    assert len(readings) > 1
    assert best == expected
    parsed = parse_combined(f"Before. [[{inner}]] After.")
    assert parsed.warnings and "options contain commas" in parsed.warnings[0]
    assert parsed.original == f"Before. {expected[0]} After."
    assert parsed.altered == f"Before. {expected[1]} After."


def test_mirror_score_prefers_swapped_words() -> None:
    assert mirror_score("Cav2.2, but not Cav2.3", "Cav2.3, but not Cav2.2") > mirror_score(
        "Cav2.2", "but not Cav2.3, Cav2.3, but not Cav2.2"
    )


def test_single_closing_bracket_is_repaired_and_reported() -> None:
    text = "responses [[decreased, increased] at PP-DG, while they [[increased, decreased]] at Fx-NAc."
    parsed = parse_combined(text)
    assert not parsed.errors
    assert parsed.repairs and "closed by a single ']'" in parsed.repairs[0]
    assert parsed.original == "responses decreased at PP-DG, while they increased at Fx-NAc."
    assert parsed.altered == "responses increased at PP-DG, while they decreased at Fx-NAc."
    # what the paper's parser made of it: garbled on both sides
    assert paper_parse(text) == ("responses decreased at Fx-NAc.", "responses increased] at PP-DG at Fx-NAc.")


def test_never_closed_bracket_is_an_error() -> None:
    parsed = parse_combined("responses [[decreased, increased at PP-DG.")
    assert parsed.errors and "never closed" in parsed.errors[0]


@pytest.mark.parametrize(
    ("combined", "reason"),
    [
        ("Rates [[, decreased]] today.", "empty option"),
        ("Rates [[increased, ]] today.", "empty option"),
        ("Rates [[increased, increased]] today.", "identical options"),
        ("Rates [[increased]] today.", "holds 1 option"),
        ("Rates increased today.", "no edit found"),
    ],
)
def test_malformed_rows_are_errors_with_file_and_line(combined: str, reason: str) -> None:
    n_rows, cases, problems = parse_cases(csv_text("Fine [[up, down]].", combined), source="mine.csv")
    assert n_rows == 2 and len(cases) == 1
    [problem] = problems
    assert str(problem).startswith("mine.csv:3: error: row 1: ")
    assert reason in problem.reason


def test_missing_columns() -> None:
    _, cases, problems = parse_cases("doi,abstract\n10.1/x,text\n", source="bad.csv")
    assert cases == []
    assert (
        str(problems[0])
        == "bad.csv:1: error: missing column(s) journal_section, combined_abstract; found doi, abstract"
    )


def test_duplicate_item_ids() -> None:
    text = 'item_id,doi,journal_section,combined_abstract\n3,a,S,"[[x, y]]"\n3,b,S,"[[p, q]]"\n'
    _, cases, problems = parse_cases(text, source="dup.csv")
    assert [case.item_id for case in cases] == [3]
    assert str(problems[0]) == "dup.csv:3: error: row 1: duplicate item_id 3 (first on line 2)"


def test_wrong_field_count_names_the_line() -> None:
    _, _, problems = parse_cases(HEADER + 'a,S,"[[x, y]]",extra\n', source="f.csv")
    assert str(problems[0]) == "f.csv:2: error: 4 fields, expected 3 as in the header"


def test_multiline_csv_records_report_their_first_line() -> None:
    text = HEADER + 'a,S,"one\nline two [[x, y]]"\nb,S,"no edit here"\n'
    _, _, problems = parse_cases(text, source="m.csv")
    assert str(problems[0]).startswith("m.csv:4: error: row 1: no edit found")


def test_jsonl_rows() -> None:
    text = '{"doi": "a", "journal_section": "S", "combined_abstract": "[[x, y]] z"}\n\nnot json\n'
    _, cases, problems = parse_cases(text, source="c.jsonl", fmt="jsonl")
    assert [(c.original, c.altered) for c in cases] == [("x z", "y z")]
    assert str(problems[0]).startswith("c.jsonl:3: error: not valid JSON")


def test_released_columns_are_scored_by_default_and_reparsed_on_request() -> None:
    text = (
        "doi,journal_section,original_abstract,incorrect_abstract,combined_abstract\n"
        'a,S,Cav2.2 rules.,but not Cav2.3 rules.,"[[Cav2.2, but not Cav2.3, Cav2.3, but not Cav2.2]] rules."\n'
    )
    _, [released], problems = parse_cases(text, source="r.csv")
    assert (released.original, released.altered) == ("Cav2.2 rules.", "but not Cav2.3 rules.")
    assert any("differs from the reparsed" in p.reason for p in problems)
    _, [reparsed], _ = parse_cases(text, source="r.csv", texts="reparsed")
    assert (reparsed.original, reparsed.altered) == ("Cav2.2, but not Cav2.3 rules.", "Cav2.3, but not Cav2.2 rules.")


def test_n_options_with_bars() -> None:
    parsed = parse_combined("Rates [[rose | fell | held]] after training and cells [[fired | slept | idled]].")
    assert parsed.versions == (
        "Rates rose after training and cells fired.",
        "Rates fell after training and cells slept.",
        "Rates held after training and cells idled.",
    )
    assert not parsed.errors and not parsed.warnings
    for edit in parsed.edits:
        for version, option, start in zip(parsed.versions, edit.options, edit.starts):
            assert version[start : start + len(option)] == option
    pair = parse_combined(
        "Cells [[fired more, and faster | fired less, and slower]]."
    )  # a pair with '|': commas are no problem
    assert pair.versions == ("Cells fired more, and faster.", "Cells fired less, and slower.") and not pair.warnings


@pytest.mark.parametrize(
    ("combined", "reason"),
    [
        ("A [[x | y | z]] and [[p | q]].", "has 2 options, but the case's first edit has 3"),
        ("A [[x | y | x]].", "identical options in '[[x | y | x]]': two options are the same"),
        ("A [[x | | z]].", "empty option"),
    ],
)
def test_n_option_problems(combined: str, reason: str) -> None:
    assert any(reason in error for error in parse_combined(combined).errors)


def test_options_given_as_full_texts_in_jsonl() -> None:
    text = (
        '{"doi": "a", "journal_section": "S", "options": ["Cells slept.", "Cells fired.", "Cells idled."], "answer": '
        "1}\n"
        '{"doi": "b", "journal_section": "S", "options": ["One.", "One."]}\n'
        '{"doi": "c", "journal_section": "S", "options": ["One.", "Two."], "answer": 2}\n'
        '{"doi": "d", "journal_section": "S"}\n'
    )
    _, cases, problems = parse_cases(text, source="n.jsonl", fmt="jsonl")
    assert [case.options for case in cases] == [("Cells fired.", "Cells slept.", "Cells idled.")]  # the real one first
    assert [str(problem) for problem in problems] == [
        "n.jsonl:2: error: row 1: identical options in 'options': two versions are the same",
        "n.jsonl:3: error: row 2: 'answer' '2' is not the index of one of the 2 options",
        "n.jsonl:4: error: row 3: 'combined_abstract' is missing",
    ]


def test_a_jsonl_n_option_file_may_name_the_subfield_as_graded_files_do() -> None:
    text = '{"doi": "x", "subfield": "Systems", "options": ["Rose.", "Fell.", "Held."], "answer": 0}\n'
    n_rows, cases, problems = parse_cases(text, source="n.jsonl", fmt="jsonl")
    assert (n_rows, [case.subfield for case in cases], problems) == (1, ["Systems"], [])


def test_mixed_separators_are_read_at_the_bars_and_a_list_is_said_so() -> None:
    listed = parse_combined("Rates [[rose, fell | held]] here.")
    assert listed.versions == ("Rates rose, fell here.", "Rates held here.")
    assert any("mixes '|' and ','" in warning for warning in listed.warnings)
    phrase = parse_combined("Cells [[fired more, and faster | fired less]] here.")  # a comma inside a phrase
    assert not phrase.warnings
