"""Fig S7 from the paper's own numbers: ZLIB_A_and_B.npy and the j_of_neuro arrays, imported with the run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from brainbench.analysis import memorisation_scores
from brainbench.runs.memorisation import read_memorisation
from tests.commands import invoke


def test_the_papers_zlib_and_reference_arrays_become_the_memorisation_table(data_dir: Path, tmp_path: Path) -> None:
    released = data_dir / "published_results" / "gpt2"
    result = invoke("import-published", str(released / "human_abstracts"), "--model", "gpt2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "memorisation (Fig S7)" in result.stderr
    table = memorisation_scores(read_memorisation(tmp_path))
    ppl, zlib, labels = (
        np.load(released / "human_abstracts" / name) for name in ("PPL_A_and_B.npy", "ZLIB_A_and_B.npy", "labels.npy")
    )
    originals = table[table["kind"] == "original"].set_index("item_id")
    altered = table[table["kind"] == "altered"].set_index("item_id")
    assert len(originals) == len(altered) == 200
    rows = np.arange(200)
    assert (originals.loc[rows, "ppl"].to_numpy() == ppl[rows, labels]).all()  # the correct option, as the paper
    assert (originals.loc[rows, "zlib"].to_numpy() == zlib[rows, labels]).all()
    assert (altered.loc[rows, "ppl"].to_numpy() == ppl[rows, 1 - labels]).all()
    assert originals.loc[0, "zlib_ratio"] == math.log(originals.loc[0, "ppl"]) / originals.loc[0, "zlib"]
    assert originals["min_k"].isna().all()  # token log-probabilities were not released
    references = table[table["kind"] == "reference"]
    assert set(references["label"]) == {"Journal of Neuroscience (2017-2022)"} and len(references) == 1000
    assert (references["ppl"].to_numpy() == np.load(released / "j_of_neuro" / "PPL.npy")).all()


def test_a_reference_folder_alone_joins_an_imported_run(data_dir: Path, tmp_path: Path) -> None:
    released = data_dir / "published_results"
    llama = "meta-llama--Llama-2-7b-hf"
    assert (
        invoke(
            "import-published",
            str(released / llama / "human_abstracts"),
            "--model",
            llama,
            "--out",
            str(tmp_path / "run"),
        ).returncode
        == 0
    )
    corpus = str(released / "gpt2" / "j_of_neuro")
    refused = invoke("import-published", corpus, "--model", llama, "--out", str(tmp_path / "nothing"))
    assert refused.returncode == 1 and "not a run: import its model's human_abstracts folder" in refused.stderr
    wrong_model = invoke("import-published", corpus, "--model", "gpt2", "--out", str(tmp_path / "run"))
    assert wrong_model.returncode == 1 and "holds a run of meta-llama--Llama-2-7b-hf" in wrong_model.stderr
    for _ in range(2):  # importing again replaces the corpus
        assert invoke("import-published", corpus, "--model", llama, "--out", str(tmp_path / "run")).returncode == 0
    table = read_memorisation(tmp_path / "run")
    assert table["kind"].value_counts().to_dict() == {"reference": 1000, "original": 200, "altered": 200}


def test_the_catch_trials_are_refused_saying_why(data_dir: Path, tmp_path: Path) -> None:
    """Only the catch trials' PPLs and labels were released: no texts, no DOIs, no dataset to align them to."""
    folder = data_dir / "published_results" / "mistralai--Mistral-7B-v0.1" / "catch_trials"
    result = invoke("import-published", str(folder), "--model", "mistralai--Mistral-7B-v0.1", "--out", str(tmp_path))
    assert result.returncode == 1
    assert (
        "the paper's 6 catch trials (6 of 6 right by these PPLs)" in result.stderr
        and "not their texts" in result.stderr
    )
