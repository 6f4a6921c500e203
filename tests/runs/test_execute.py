"""A/B order, the decision rule, resumable run directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainbench.data import load_dataset
from brainbench.data.files import load_cases
from brainbench.errors import InputError, RunError
from brainbench.runs import ab_labels, load_run, run_benchmark
from brainbench.runs.execute import export_run
from brainbench.runs.records import scored_record
from brainbench.runs.store import ResultsStore, RunCase
from brainbench.scoring import TokenScores
from brainbench.scoring.rules import OptionScore
from tests.commands import TIMINGS
from tests.fakes import FakeScorer


def test_labels_follow_the_paper_rule() -> None:
    np.random.seed(42)
    paper = [1 if np.random.rand() > 0.5 else 0 for _ in range(200)]
    assert [ab_labels(list(range(200)))[i] for i in range(200)] == paper
    assert ab_labels([5, 7]) == {5: paper[5], 7: paper[7]}  # a subset keeps each row's own draw
    assert ab_labels(list(range(200)), seed=1) != ab_labels(list(range(200)))


def test_labels_match_the_published_labels(data_dir: Path) -> None:
    for model in ("gpt2", "mistralai--Mistral-7B-v0.1"):
        published = np.load(data_dir / "published_results" / model / "human_abstracts" / "labels.npy")
        assert [ab_labels(list(range(200)))[i] for i in range(200)] == published.tolist()


def _scores(ppl: float, n: int = 4) -> TokenScores:
    return TokenScores(tuple([-np.log(ppl)] * n), n + 1)


@pytest.mark.parametrize(
    ("label", "ppl_original", "ppl_altered", "choice", "correct"),
    [
        (0, 2.0, 3.0, "A", True),  # original is A and less surprising
        (1, 2.0, 3.0, "B", True),  # original is B and less surprising
        (0, 3.0, 2.0, "B", False),
        (1, 3.0, 2.0, "A", False),
        (0, 2.0, 2.0, "tie", False),  # an exact tie is scored wrong
    ],
)
def test_decision_rule(label: int, ppl_original: float, ppl_altered: float, choice: str, correct: bool) -> None:
    case = RunCase(0, "doi", "Systems/Circuits", "human", ("sha-o", "sha-a"), (1, 0) if label else (0, 1))
    options = [OptionScore(s.ppl, s.sum_logprob, s.n_tokens, 40) for s in (_scores(ppl_original), _scores(ppl_altered))]
    record = scored_record(case, options, 0.1)
    assert record["choice"] == choice and record["correct"] is correct
    assert record["ppl_original"] == pytest.approx(ppl_original)
    assert record["confidence"] == pytest.approx(abs(ppl_original - ppl_altered))
    assert record["ntokens_original"] == 4 and record["nll_original"] == pytest.approx(4 * np.log(ppl_original))


@pytest.fixture()
def small_dataset(tmp_path: Path):
    path = tmp_path / "cases.csv"
    rows = [
        ("a", "Behavioral/Cognitive", "Rates [[rose, skyrocketed]] sharply."),
        ("b", "Behavioral/Cognitive", "Cells [[fired, discharged]] more."),
        ("c", "Systems/Circuits", "Mice [[explored, investigated]] less."),
        ("d", "Systems/Circuits", "Spikes [[synchronised, fell]] here."),
        ("e", "Cellular/Molecular", "Channels [[opened, closed]] FAILME."),
    ]
    path.write_text(
        "doi,journal_section,combined_abstract\n" + "".join(f'{d},{s},"{c}"\n' for d, s, c in rows), encoding="utf-8"
    )
    return load_cases(path)


def test_run_writes_results_and_summary(small_dataset, tmp_path: Path) -> None:
    summary = run_benchmark(small_dataset, FakeScorer(fail_on=["FAILME"]), tmp_path / "run")
    run_info, records = load_run(tmp_path / "run")
    assert [r["item_id"] for r in records] == [0, 1, 2, 3, 4]
    assert records[4]["status"] == "error" and "scripted failure" in records[4]["error"]
    # longer altered words -> higher fake PPL: items 0-2 correct, item 3 ("fell" is shorter) wrong
    assert [r["correct"] for r in records[:4]] == [True, True, True, False]
    assert summary["n_items"] == 5 and summary["n_errors"] == 1 and summary["n_scored"] == 4
    assert summary["accuracy"] == 0.75 and summary["n_ties"] == 0
    assert summary["by_subfield"]["Systems/Circuits"]["accuracy"] == 0.5
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["accuracy"] == 0.75
    assert run_info.seed == 42 and run_info.spec.dataset_sha256 == small_dataset.sha256


def strip(records):
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records]


def test_interrupted_run_resumes_to_identical_results(small_dataset, tmp_path: Path) -> None:
    run_benchmark(small_dataset, FakeScorer(), tmp_path / "whole", store=tmp_path / "whole.sqlite")
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(small_dataset, FakeScorer(interrupt_after=2), tmp_path / "split", store=tmp_path / "split.sqlite")
    assert ResultsStore(tmp_path / "split.sqlite").count_scores() == 4  # two cases, committed as scored
    run_info, records = load_run(tmp_path / "split")
    assert len(records) == 2 and run_info.n_requested == 5  # exported on the interrupt, and partial:
    assert json.loads((tmp_path / "split" / "summary.json").read_text())["partial"] is True
    resumed = FakeScorer()
    run_benchmark(small_dataset, resumed, tmp_path / "split", store=tmp_path / "split.sqlite")
    assert resumed.calls == 3  # only the missing items were scored
    assert strip(load_run(tmp_path / "split")[1]) == strip(load_run(tmp_path / "whole")[1])
    assert json.loads((tmp_path / "split" / "summary.json").read_text())["partial"] is False


def test_a_damaged_results_file_is_named_and_export_rewrites_it(small_dataset, tmp_path: Path) -> None:
    summary = run_benchmark(small_dataset, FakeScorer(), tmp_path / "run", store=tmp_path / "brainbench.sqlite")
    results = tmp_path / "run" / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text(lines[0] + "\n" + lines[1][:20] + "\n")
    with pytest.raises(RunError, match=r"results.jsonl:2: not valid JSON"):
        load_run(tmp_path / "run")
    store = ResultsStore(tmp_path / "brainbench.sqlite")
    assert export_run(store, summary["run"]["run_key"], tmp_path / "run") == summary
    assert len(load_run(tmp_path / "run")[1]) == 5


def test_errors_are_retried_on_resume(small_dataset, tmp_path: Path) -> None:
    store = tmp_path / "brainbench.sqlite"
    first = run_benchmark(small_dataset, FakeScorer(fail_on=["FAILME"]), tmp_path / "run", store=store)
    assert first["n_errors"] == 1
    scorer = FakeScorer()
    summary = run_benchmark(small_dataset, scorer, tmp_path / "run", store=store)
    assert scorer.calls == 1 and summary["n_errors"] == 0 and summary["n_scored"] == 5
    assert [run["errors"] for run in ResultsStore(tmp_path / "brainbench.sqlite").list_runs()] == [0]


def test_cases_scored_in_batches_give_the_same_records(small_dataset, tmp_path: Path) -> None:
    run_benchmark(small_dataset, FakeScorer(fail_on=["FAILME"]), tmp_path / "one", store=tmp_path / "one.sqlite")
    batched = FakeScorer(fail_on=["FAILME"], batch_size=3)
    run_benchmark(small_dataset, batched, tmp_path / "three", store=tmp_path / "three.sqlite")
    # the batch holding the failing case is retried case by case: only that case is an error
    assert strip(load_run(tmp_path / "three")[1]) == strip(load_run(tmp_path / "one")[1])
    assert batched.calls == 2 + 3


def test_the_store_scores_each_text_once_across_runs(small_dataset, tmp_path: Path) -> None:
    store = tmp_path / "brainbench.sqlite"
    run_benchmark(small_dataset, FakeScorer(), tmp_path / "seed42", store=store)
    other_seed = FakeScorer()
    summary = run_benchmark(small_dataset, other_seed, tmp_path / "seed7", seed=7, store=store)
    assert other_seed.calls == 0 and summary["n_scored"] == 5  # same scorer, same texts: nothing recomputed
    store = ResultsStore(tmp_path / "brainbench.sqlite")
    assert store.count_scores() == 10
    assert sorted(run["seed"] for run in store.list_runs()) == [7, 42]


def test_shards_share_a_run_through_one_store(small_dataset, tmp_path: Path) -> None:
    whole = run_benchmark(small_dataset, FakeScorer(), tmp_path / "whole", store=tmp_path / "whole.sqlite")
    shards = [FakeScorer(), FakeScorer()]
    for index, scorer in enumerate(shards):
        summary = run_benchmark(
            small_dataset, scorer, tmp_path / "sharded", store=tmp_path / "shared.sqlite", shard=(index, 2)
        )
    assert [scorer.calls for scorer in shards] == [3, 2]  # items 0, 2, 4 and 1, 3
    assert strip(load_run(tmp_path / "sharded")[1]) == strip(load_run(tmp_path / "whole")[1])
    assert summary["accuracy"] == whole["accuracy"]


def test_a_different_run_in_the_same_directory_is_refused(small_dataset, tmp_path: Path) -> None:
    run_benchmark(small_dataset, FakeScorer(), tmp_path / "run")
    with pytest.raises(InputError, match="holds another run \\(its seed differ\\)"):
        run_benchmark(small_dataset, FakeScorer(), tmp_path / "run", seed=7)
    summary = run_benchmark(small_dataset, FakeScorer(), tmp_path / "run", seed=7, overwrite=True)
    assert summary["run"]["spec"]["seed"] == 7


def test_subset_of_a_published_dataset_keeps_row_labels(data_dir: Path, tmp_path: Path) -> None:
    dataset = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    cases = [dataset.cases[i] for i in (3, 10, 150)]
    run_benchmark(dataset, FakeScorer(), tmp_path / "run", cases=cases)
    _, records = load_run(tmp_path / "run")
    labels = np.load(data_dir / "published_results" / "gpt2" / "human_abstracts" / "labels.npy")
    assert [(r["item_id"], r["label"]) for r in records] == [(i, int(labels[i])) for i in (3, 10, 150)]
