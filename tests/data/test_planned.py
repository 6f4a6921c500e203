"""Planned studies for `brainbench predict`: Markdown, JSON and YAML read the same; each mistake names file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainbench.data.planned import load_study, parse_study
from brainbench.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GRADED_MD = """## Background
Background sentence.
## Methods
Methods sentence.
## Outcomes
Silencing reduced freezing by {value}.

- 10%
- 30–50%
- 60%
"""


def test_the_text_example_reads_as_background_methods_and_two_outcomes() -> None:
    study = load_study(EXAMPLES / "planned-study.md")
    assert study.title == "Amygdala silencing and fear memory" and not study.graded
    assert study.labels == (
        "Silencing BLA terminals in the prelimbic cortex reduced freezing to the tone.",
        "Silencing BLA terminals in the prelimbic cortex increased freezing to the tone.",
    )
    first = study.texts()[0]
    assert first.startswith("The basolateral amygdala (BLA) is needed") and first.endswith(
        " measured freezing. " + study.labels[0]
    )


def test_a_graded_study_in_markdown_json_and_yaml() -> None:
    from_markdown = parse_study(GRADED_MD, "study.md", "md")
    assert from_markdown.labels == ("10%", "30–50%", "60%") and from_markdown.numeric == (10, 40, 60)
    assert from_markdown.outcomes[1] == "Silencing reduced freezing by 30–50%."
    parts = {
        "background": "Background sentence.",
        "methods": "Methods sentence.",
        "outcome": "Silencing reduced freezing by {value}.",
        "values": ["10%", "30–50%", "60%"],
    }
    assert parse_study(json.dumps(parts), "study.json", "json") == from_markdown
    assert (
        parse_study("\n".join(f"{key}: {json.dumps(value)}" for key, value in parts.items()), "study.yaml", "yaml")
        == from_markdown
    )
    yaml_example = load_study(EXAMPLES / "planned-study-graded.yaml")
    assert yaml_example.numeric == (10, 25, 50, 75, 90) and yaml_example.unit == "%" and len(yaml_example.texts()) == 5


@pytest.mark.parametrize(
    ("text", "fmt", "where", "reason"),
    [
        ("## Background\nB.\n## Discussion\nD.\n", "md", 3, "unknown section 'Discussion'"),
        ("Some text.\n## Background\nB.\n", "md", 1, "text before the first section"),
        ("## Background\nB.\n## Methods\nM.\n## Outcomes\n- only one\n", "md", 5, "1 outcome(s): give at least two"),
        (
            "## Background\nB.\n## Methods\nM.\n## Outcomes\n- same\n- same\n",
            "md",
            5,
            "the outcome 'same' is given twice",
        ),
        (
            "## Background\nB.\n## Methods\nM.\n## Outcomes\nIt rose.\n",
            "md",
            5,
            "text under Outcomes that is no list item",
        ),
        ("## Methods\nM.\n## Outcomes\n- a\n- b\n", "md", None, "no background"),
        (
            '{"background": "B", "methods": "M", "outcome": "by {value} and {value}", "values": ["1", "2"]}',
            "json",
            None,
            "exactly one {value} slot",
        ),
        (
            '{"background": "B", "methods": "M", "outcome": "by {value}", "values": ["small", "large"]}',
            "json",
            None,
            "value 'small' holds no number",
        ),
        (
            '{"background": "B", "methods": "M", "outcome": "by {value}", "values": ["a", "b"], "numeric": [2, 1]}',
            "json",
            None,
            "'numeric' is not sorted",
        ),
        (
            '{"background": "B", "methods": "M", "outcomes": ["a", "b"], "discussion": "x"}',
            "json",
            None,
            "unknown field(s) discussion",
        ),
        ('{"background": "B",', "json", 1, "not valid JSON"),
    ],
)
def test_each_mistake_is_one_line_naming_the_file(text: str, fmt: str, where: int | None, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_study(text, f"study.{fmt}", fmt)
    assert caught.value.line == where and reason in caught.value.reason
