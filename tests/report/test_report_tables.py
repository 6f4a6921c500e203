"""How the report shows numbers, names and wide tables, what its JSON holds, and Fig 3A's order and colours."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from brainbench.analysis import PAPER_MODEL_SET, is_tuned, model_family
from brainbench.report import Section, render_html, report_json
from brainbench.report.figures import family_colours, figure_order
from brainbench.report.html import format_number


def test_one_number_format() -> None:
    assert [format_number(v) for v in (1.578e-06, 0.0001125, 0.007215, 0.7159, 15.7134, 1011.0, 0.0)] == [
        "1.58e-06",
        "1.12e-04",
        "0.007215",
        "0.7159",
        "15.71",
        "1011",
        "0",
    ]


def test_wide_tables_are_turned_or_folded_and_names_shortened() -> None:
    runs = [f"org--model-{i}-chat-hf" for i in range(10)]
    subfields = pd.DataFrame(np.full((3, 10), 0.5), index=pd.Index(["a", "b", "c"], name="subfield"), columns=runs)
    matrix = pd.DataFrame(np.eye(10), index=runs, columns=runs)
    page = render_html("r", [Section("s", tables={"By subfield": subfields, "Agreement": matrix})], {"By subfield"})
    turned = page[page.index("By subfield") : page.index("Agreement")]
    # a run per row, its short name shown and the full one on hover; the matrix one click away
    assert "<th title='org--model-0-chat-hf'>model-0-chat-hf</th><td>50.0%</td>" in turned
    assert "<details><summary><h3>Agreement</h3> (10 x 10;" in page
    assert "white-space:nowrap" in page and ".wide{overflow-x:auto" in page


def test_report_json_holds_every_number_unrounded() -> None:
    table = pd.DataFrame({"accuracy": [1 / 3, math.nan], "n": [np.int64(3), np.int64(4)]}, index=["m1", "m2"])
    table.index.name = "model"
    section = Section("s", text="t", tables={"Models": table}, data={"fit": {"slope": np.float64(2 / 7)}, "x": [0.1]})
    payload = json.loads(json.dumps(report_json("r", [section]), allow_nan=False))
    assert payload["sections"][0]["tables"]["Models"] == [
        {"model": "m1", "accuracy": 1 / 3, "n": 3},
        {"model": "m2", "accuracy": None, "n": 4},
    ]
    assert payload["sections"][0]["data"] == {"fit": {"slope": 2 / 7}, "x": [0.1]}


def test_fig_3a_shows_the_papers_order_families_and_chat_versions() -> None:
    names = sorted([*PAPER_MODEL_SET, "my-org--SmolLM2-135M-Instruct", "lora_r256_a512_finetune_mistral_7b_v01"])
    order = figure_order(names)
    assert order[:15] == list(PAPER_MODEL_SET)
    assert order[15:] == ["lora_r256_a512_finetune_mistral_7b_v01", "my-org--SmolLM2-135M-Instruct"]  # as given
    assert [model_family(name) for name in order[:8]] == ["Galactica"] * 3 + ["Falcon"] * 4 + ["Llama-2"]
    assert model_family("lora_r256_a512_finetune_mistral_7b_v01") == "Mistral"
    assert model_family("TinyLlama--TinyLlama_v1.1") == "TinyLlama" and model_family("my-org--Foo-7b-chat") == "Foo"
    assert [is_tuned(name) for name in order[3:7]] == [False, True, False, True]  # falcon 40b, -instruct, 180B, -chat
    colours = family_colours(order)
    assert colours["Llama-2"] == "#0072B2" and len(set(colours.values())) == len(colours)
