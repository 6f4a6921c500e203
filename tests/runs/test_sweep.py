"""Sweep files: checked with clear errors, run into one store, re-run from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainbench.errors import InputError
from brainbench.runs.plan import RunPlan
from brainbench.runs.store import ResultsStore
from brainbench.runs.sweep import load_sweep, run_sweep
from tests.commands import invoke


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_limit_and_items_are_taken(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path / "sweep.yaml", "models: [{}]\nlimit: 8\n"))
    assert (sweep.limit, sweep.items, sweep.limited) == (8, None, True)
    assert load_sweep(_write(tmp_path / "sweep.yaml", "models: [{}]\nitems: 0-3,9\n")).items == "0-3,9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [{}]\nmodel: x\n", r"unknown key\(s\) model"),
        ("datasets: [a]\n", "'models' must be a non-empty list"),
        (
            "models:\n  - {backend: llama-cpp, adapter: x}\n",
            r"models\[0\]: adapter: not an option of the llama-cpp backend",
        ),
        ("models:\n  - {backend: vllm}\n", r"models\[0\]: unknown backend 'vllm'"),
        ("models: [\n", r"sweep.yaml:\d+: not valid YAML"),
        (
            "models: [{}]\nconditions: [isolated]\n",
            "conditions: 'isolated' is not full, no-context, swapped or swapped-seed<N>",
        ),
        ("models: [{}]\nconditions: [no-context-seed1]\n", "conditions: 'no-context-seed1' is not"),
        ("models: [{}]\nlimit: 0\n", "limit: 0 is not a whole number of 1 or more"),
        ("models: [{}]\nitems: 5-2\n", "items: '5-2' runs backwards"),
        ("models: [{}]\ndatasets: []\n", r"sweep.yaml: datasets: empty; name at least one"),
        ("models: [{}]\ndatasets:\n", r"sweep.yaml: datasets: empty"),
        ("models: [{}]\nconditions: []\n", r"sweep.yaml: conditions: empty"),
        ("models: [{}]\ndatasets: {a: 1}\n", r"sweep.yaml: datasets: expected a list of names"),
    ],
)
def test_bad_sweep_files_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_sweep(_write(tmp_path / "sweep.yaml", text))


def test_models_that_fail_to_load_are_reported_and_the_sweep_goes_on(tmp_path: Path, data_dir: Path) -> None:
    """An empty folder as a model (it crashed the sweep with a ValueError from the tokenizer, and no table) and a
    missing GGUF file: each gets its row with the reason, found before any model loads, and the sweep goes on."""
    (tmp_path / "empty").mkdir()
    sweep = _write(
        tmp_path / "sweep.yaml",
        f"out: {tmp_path / 'runs'}\nlimit: 1\nmodels:\n  - {{model: {tmp_path / 'empty'}}}\n"
        f"  - {{model: {tmp_path / 'missing.gguf'}}}\n",
    )
    result = invoke("sweep", str(sweep), "--store", str(tmp_path / "s.sqlite"), "--data-dir", str(data_dir), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert [row["error"] for row in json.loads(result.stdout)] == [
        f"--model {tmp_path / 'empty'}: a folder without config.json, so not a transformers model folder",
        f"--model {tmp_path / 'missing.gguf'}: no such GGUF file",
    ]


@pytest.mark.slow
def test_two_backends_the_choice_protocol_one_store_and_a_broken_model(
    tmp_path: Path, data_dir: Path, llama_server: str
) -> None:
    cases = _write(
        tmp_path / "cases.csv",
        "doi,journal_section,combined_abstract\n"
        'a,Systems/Circuits,"Place cells in the hippocampus [[remapped, stayed stable]] when the arena changed '
        'shape."\n'
        'b,Behavioral/Cognitive,"Reaction times were [[slower, faster]] after sleep deprivation in all '
        'participants."\n',
    )
    sweep = load_sweep(
        _write(
            tmp_path / "sweep.yaml",
            f"""
out: {tmp_path / "runs"}
datasets: [{cases}]
models:
  - {{}}
  - {{backend: llama-cpp}}
  - {{model: {tmp_path / "missing.gguf"}, name: broken}}
  - {{model: {tmp_path / "config-only"}, name: half}}
  - {{protocol: choice, backend: openai-chat, base_url: "{llama_server}"}}
""",
        )
    )
    (tmp_path / "config-only").mkdir()  # a folder whose config.json is all there is: it fails as it loads
    (tmp_path / "config-only" / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    rows = run_sweep(sweep, data_dir=data_dir, offline=True, store=str(tmp_path / "s.sqlite"))
    assert [(row["backend"], row.get("n_items")) for row in rows] == [
        ("transformers", 2),
        ("llama-cpp", 2),
        ("transformers", None),
        ("transformers", None),
        ("openai-chat", 2),  # asked the experts' question in both orders (the tiny model may leave it unanswered)
    ]
    assert [row.get("n_scored") for row in rows[:2]] == [2, 2]
    assert "no such GGUF file" in rows[2]["error"]
    assert rows[3]["error"].startswith(f"could not load model '{tmp_path / 'config-only'}': ")
    assert Path(rows[4]["out"]).name.endswith("__choice")
    store = ResultsStore(tmp_path / "s.sqlite")
    assert store.count_scores() == 8  # 2 cases x 2 texts x 2 backends
    again = run_sweep(sweep, data_dir=data_dir, offline=True, store=str(tmp_path / "s.sqlite"))
    assert [row.get("accuracy") for row in again] == [row.get("accuracy") for row in rows] and store.count_scores() == 8


@pytest.mark.slow
def test_a_sweep_over_conditions(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _write(
        tmp_path / "cases.csv",
        "doi,journal_section,combined_abstract\n"
        'a,S,"Mice ran in a maze. Place cells [[remapped, stayed stable]] when it changed shape."\n'
        'b,S,"People slept little. Reaction times were [[slower, faster]] afterwards."\n'
        'c,S,"Rats learned a task. Dopamine release [[rose, fell]] with reward. It [[peaked, dipped]] early."\n',
    )
    sweep = load_sweep(
        _write(
            tmp_path / "sweep.yaml",
            f"""
out: {tmp_path / "runs"}
store: {tmp_path / "store.sqlite"}
datasets: [{cases}]
conditions: [full, no-context, swapped-seed7]
models: [{{}}]
""",
        )
    )
    rows = run_sweep(sweep, data_dir=data_dir, offline=True)
    assert [(row["condition"], row["n_items"]) for row in rows] == [("full", 3), ("no-context", 4), ("swapped", 3)]
    names = [Path(row["out"]).name for row in rows]
    assert names[1] == names[0] + "__no-context" and names[2] == names[0] + "__swapped-seed7"

    # again: every run is complete in the store, so the model is not even loaded
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded although its runs are complete")

    monkeypatch.setattr(RunPlan, "load_model", no_loading)
    for path in (Path(row["out"]) for row in rows):
        (path / "results.jsonl").unlink()
    assert run_sweep(sweep, data_dir=data_dir, offline=True) == rows
    assert all((Path(row["out"]) / "results.jsonl").is_file() for row in rows)  # exported from the store
