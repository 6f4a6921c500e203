"""The no-context and swapped-context conditions: the paper's items and labels, rebuilt; and runs under them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.data import load_dataset
from brainbench.data.conditions import apply_condition, no_context, split_sentences, swap_source, swapped_context
from brainbench.data.files import load_cases
from brainbench.errors import InputError
from brainbench.runs import ab_labels, load_run
from brainbench.runs.published import import_published, swap_folders

PUBLISHED = ("meta-llama--Llama-2-7b-hf", "mistralai--Mistral-7B-v0.1")


@pytest.fixture(scope="module")
def human(data_dir: Path):
    return load_dataset("brainbench-human", data_dir=data_dir, offline=True)


def test_sentences_split_on_full_stops_not_abbreviations() -> None:
    assert split_sentences("Dr. Smith found more (p < 0.05). Mice ran.") == [
        "Dr. Smith found more (p < 0.05).",
        "Mice ran.",
    ]


def test_the_result_sentences_are_the_papers(human, data_dir: Path) -> None:
    # swap_human_abstracts.json is the authors' pool of result sentences: rebuilt exactly, order included
    published = json.loads((data_dir / "swap_human_abstracts.json").read_text())
    rebuilt = swap_source(human)
    assert rebuilt == published and list(rebuilt) == list(published)


def test_no_context_items_and_labels_are_the_papers(human, data_dir: Path) -> None:
    pairs = no_context(human)
    assert len(pairs.cases) == 488 and [case.item_id for case in pairs.cases] == list(range(488))
    folder = data_dir / "published_results" / PUBLISHED[0] / "human_abstracts"
    abstract_of_pair = np.load(folder / "abstract_mask_iso.npy")
    dois = [case.doi for case in human.cases]
    assert [case.doi for case in pairs.cases] == [dois[row] for row in abstract_of_pair]
    assert [ab_labels(list(range(488)))[i] for i in range(488)] == np.load(folder / "labels_iso.npy").tolist()
    first = pairs.cases[0]
    assert first.original != first.altered and first.original in human.cases[0].original


@pytest.mark.parametrize("seed", [42, 1234])
def test_swapped_labels_are_the_papers(human, data_dir: Path, seed: int) -> None:
    # the labels come after the swaps' draws in one stream: equal labels mean every draw was the same
    swapped, labels = swapped_context(human, seed)
    published = np.load(
        data_dir / "published_results" / PUBLISHED[1] / "human_abstracts" / f"swap_seed{seed}" / "labels.npy"
    )
    assert [labels[i] for i in range(200)] == published.tolist()
    assert len(swapped.cases) == 200 and swapped.cases[0].original != human.cases[0].original


def test_the_published_condition_accuracies(human, data_dir: Path, tmp_path: Path) -> None:
    """The without-context (over the 488 sentence pairs) and swapped-context accuracies of the
    shared models, as the authors' code computes them from their arrays (ties count as wrong)."""
    expected = {  # model: (full, no-context, swapped seed 42, swapped seed 1234)
        "meta-llama--Llama-2-7b-hf": (0.815, 0.643, 0.645, 0.700),
        "mistralai--Mistral-7B-v0.1": (0.830, 0.682, 0.695, 0.695),
    }
    for model, values in expected.items():
        folder = data_dir / "published_results" / model / "human_abstracts"
        found = [import_published(folder, human, model, tmp_path / model / "full")["accuracy"]]
        found.append(
            import_published(folder, human, model, tmp_path / model / "nc", condition="no-context")["accuracy"]
        )
        for seed, swap_folder in swap_folders(folder).items():
            found.append(
                import_published(
                    swap_folder, human, model, tmp_path / model / str(seed), condition="swapped", seed=seed
                )["accuracy"]
            )
        assert [round(value, 3) for value in found] == list(values)


def _tiny(tmp_path: Path, rows: list[tuple[str, str]]):
    path = tmp_path / "tiny.jsonl"
    path.write_text(
        "".join(
            json.dumps({"doi": f"10.1/{i}", "journal_section": subfield, "combined_abstract": text}) + "\n"
            for i, (subfield, text) in enumerate(rows)
        )
    )
    return load_cases(path, texts="reparsed")


def test_swapping_takes_results_from_other_abstracts_of_the_subfield(tmp_path: Path) -> None:
    data = _tiny(
        tmp_path,
        [
            ("A", "Context one. We found [[more, less]] spikes."),
            ("A", "Context two. Rats ran [[faster, slower]]. Mice ran [[farther, less far]]."),
            ("A", "Context three. Cells [[grew, shrank]] a lot."),
            ("B", "Other field. Flies [[slept, woke]] more."),
            ("B", "Also other. Fish [[swam, sank]] fast."),
        ],
    )
    swapped, labels = swapped_context(data, seed=0)
    originals = {
        "We found more spikes.",
        "Rats ran faster.",
        "Mice ran farther.",
        "Cells grew a lot.",
        "Flies slept more.",
        "Fish swam fast.",
    }
    for case, before in zip(swapped.cases, data.cases):
        context, *results = split_sentences(case.original)
        assert context == split_sentences(before.original)[0]  # the context stays
        assert all(result in originals and result not in before.original for result in results)  # others' results
        assert case.altered.startswith(context)
    assert swapped.cases[4].original == "Also other. Flies slept more."  # subfield B has only one donor
    assert set(labels) == {0, 1, 2, 3, 4} and swapped_context(data, seed=0)[1] == labels
    alone = _tiny(tmp_path, [("A", "x. [[a, b]] c."), ("C", "Only one. It [[rose, fell]].")])
    with pytest.raises(InputError, match="no result sentences left in subfield 'A'"):
        swapped_context(alone)
    with pytest.raises(InputError, match="--condition.*choose full, no-context, swapped"):
        apply_condition(alone, "isolated")


@pytest.mark.slow
def test_runs_under_each_condition(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for condition, limit in (("no-context", "3"), ("swapped", "2")):
        out = tmp_path / condition
        args = [
            "run",
            "--dataset",
            "brainbench-human",
            "--data-dir",
            str(data_dir),
            "--condition",
            condition,
            "--limit",
            limit,
            "--seed",
            "1234",
            "--out",
            str(out),
            "--store",
            str(tmp_path / "store.sqlite"),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stderr
        info, records = load_run(out)
        assert info.condition == condition and info.seed == 1234 and len(records) == int(limit)
        assert all(record["status"] == "ok" for record in records)
    # the swapped items keep the labels their swaps drew, not the plain seed-1234 order
    human = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    _, labels = swapped_context(human, 1234)
    assert [record["label"] for record in load_run(tmp_path / "swapped")[1]] == [labels[0], labels[1]]
    # the first no-context item is the first edited sentence, scored alone
    assert load_run(tmp_path / "no-context")[1][0]["doi"] == human.cases[0].doi
