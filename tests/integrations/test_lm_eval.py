"""The lm-evaluation-harness task: its requests score the paper's tokens, its metrics follow the paper's rule,
and lm-eval's samples come back as a run directory equal to `brainbench run`'s."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import brainbench
from brainbench.cli import app
from brainbench.errors import BackendError, InputError
from brainbench.integrations.lm_eval import TASK_DIR
from brainbench.integrations.lm_eval.documents import split_first_token
from brainbench.integrations.lm_eval.metrics import option_scores, process_results
from brainbench.integrations.lm_eval.samples import find_samples, import_lm_eval_samples
from brainbench.scoring import Template
from tests.conftest import tiny_llama

runner = CliRunner()
SENTENCES = [
    "You are a neuroscientist with deep knowledge in neuroscience.",
    "Here is an abstract from a neuroscience publication:",
    "Dopamine neurons encode reward prediction errors in the ventral striatum.",
    "Place cells in the hippocampus remap when the environment changes.",
]


# --- the metrics, by hand -------------------------------------------------------------------------------


def document(shown: list[int], n_tokens: list[int], n_bytes: list[int]) -> dict:
    return {"item_id": 7, "shown": shown, "n_tokens": n_tokens, "n_bytes": n_bytes}


def test_process_results_follows_each_rule() -> None:
    # A is the altered version (shown [1, 0]): log-likelihood -8 over 4 tokens, PPL e^2 = 7.39, 20 bytes;
    # B is the real one: -9 over 5 tokens, PPL e^1.8 = 6.05, 30 bytes.
    doc = document([1, 0], [4, 5], [20, 30])
    results = [(-8.0, False), (-9.0, False)]
    real, altered = option_scores(doc, [-8.0, -9.0])
    assert real.ppl == pytest.approx(math.exp(1.8)) and real.n_tokens == 5 and real.n_bytes == 30
    assert altered.ppl == pytest.approx(math.exp(2.0)) and altered.sum_logprob == -8.0
    # the paper's rule: B's PPL is lower -> right; the sum: A's -8 > -9 -> wrong; per byte: B's -0.3 > -0.4 -> right
    assert process_results(doc, results) == {"acc": 1.0, "acc_sum": 0.0, "acc_bytes": 1.0}


def test_an_exact_tie_counts_as_wrong() -> None:
    doc = document([0, 1], [4, 2], [10, 10])
    assert process_results(doc, [(-8.0, False), (-4.0, False)])["acc"] == 0.0  # both PPL e^2


# --- the requests: every token after the first, as the paper ------------------------------------------------


def tiny_tokenizer(with_bos: bool):
    """A byte-level BPE trained on a few sentences; ``with_bos``: it adds ``<s>`` in front, as Llama's does."""
    import tokenizers
    import transformers
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    backend = tokenizers.Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        SENTENCES * 5,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    if with_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", backend.token_to_id("<s>"))]
        )
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")


def test_without_a_bos_the_context_is_the_first_token() -> None:
    tokenizer = tiny_tokenizer(with_bos=False)
    text = "You are a neuroscientist. Dopamine neurons encode reward."
    ids = tokenizer(text)["input_ids"]
    request = split_first_token(text, tokenizer)
    assert request.context + request.continuation == text
    assert tokenizer(request.context)["input_ids"] == ids[:1] and request.n_tokens == len(ids) - 1


def test_with_a_bos_the_context_is_empty() -> None:
    tokenizer = tiny_tokenizer(with_bos=True)
    text = "You are a neuroscientist. Dopamine neurons encode reward."
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    request = split_first_token(text, tokenizer)
    assert (request.context, request.continuation, request.n_tokens) == ("", text, len(ids) - 1)
    literal = split_first_token(
        "<s>" + text, tokenizer
    )  # the paper's Mistral template: lm-eval scores from after the <s>
    assert literal.n_tokens == len(ids) - 1 == len(tokenizer("<s>" + text)["input_ids"]) - 2


def test_a_tokenizer_that_adds_an_end_token_is_refused() -> None:
    import tokenizers

    tokenizer = tiny_tokenizer(with_bos=False)
    eos = tokenizer.eos_token_id
    tokenizer.backend_tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos)]
    )
    with pytest.raises(BackendError, match="other than one BOS"):
        split_first_token("Dopamine neurons encode reward.", tokenizer)


@pytest.mark.parametrize(
    "template_text", ["You are a neuroscientist. <choice abstract>", "<s>[INST] Abstract: <choice abstract>"]
)
@pytest.mark.parametrize("with_bos", [False, True])
def test_lm_eval_scores_the_papers_tokens(with_bos: bool, template_text: str) -> None:
    """lm-eval's own Hugging Face model, given the task's requests, against the paper's full-sequence loss."""
    pytest.importorskip("lm_eval")
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    tokenizer = tiny_tokenizer(with_bos)
    model = tiny_llama(tokenizer, 256, bos_token_id=tokenizer.bos_token_id).eval()
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1, device="cpu")
    texts = [Template("file:t", template_text).apply(sentence) for sentence in SENTENCES[2:]]
    requests = [split_first_token(text, tokenizer) for text in texts]
    logliks = lm.loglikelihood(
        [Instance("loglikelihood", {}, (r.context, r.continuation), 0) for r in requests], disable_tqdm=True
    )
    for text, request, (loglik, _) in zip(texts, requests, logliks):
        ids = tokenizer(text)["input_ids"]
        if with_bos and text.startswith(
            "<s>"
        ):  # lm-eval drops the second BOS: it scores the text after its literal <s>
            ids = ids[1:]
        assert request.n_tokens == len(ids) - 1
        with torch.no_grad():
            tensor = torch.tensor([ids])
            expected = math.exp(float(model(input_ids=tensor, labels=tensor).loss))
        assert math.exp(-loglik / request.n_tokens) == pytest.approx(expected, rel=1e-5)


def test_lm_eval_loads_the_task_package(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The YAML as lm-eval reads it: documents from brainbench's loader, the template from --model_args or
    --metadata."""
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("BRAINBENCH_DATA_DIR", str(data_dir))
    tiny_tokenizer(with_bos=False).save_pretrained(tmp_path / "model")
    for metadata, template in (
        ({}, "gpt2"),
        ({"template": "mistralai--Mistral-7B-v0.1"}, "mistralai--Mistral-7B-v0.1"),
    ):
        manager = TaskManager(
            include_path=str(TASK_DIR),
            include_defaults=False,  # lm-eval's 14,000 task files are not needed to read ours (15 s)
            metadata={"pretrained": str(tmp_path / "model"), **metadata},
        )
        task = manager.load(["brainbench_human"])["tasks"]["brainbench_human"]
        docs = list(task.test_docs())
        assert len(docs) == 200 and {doc["template"] for doc in docs} == {template}
        first = docs[0]
        assert first["shown"] == [0, 1] and docs[1]["shown"] == [1, 0]  # the paper's seed-42 A/B order
        assert task.doc_to_choice(first) == first["continuations"] and task.doc_to_text(first) == first["context"]
        requests = task.construct_requests(first, task.doc_to_text(first))
        assert [request.arguments for request in requests] == [(first["context"], c) for c in first["continuations"]]


def test_the_papers_literal_bos_is_scored_one_token_short_with_a_warning(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from brainbench.integrations.lm_eval.documents import load_documents

    tokenizer = tiny_tokenizer(with_bos=True)
    tokenizer.save_pretrained(tmp_path / "model")
    docs = load_documents(
        "brainbench-gpt4",
        pretrained=str(tmp_path / "model"),
        template="mistralai--Mistral-7B-v0.1",
        data_dir=str(data_dir),
    )["test"]
    assert len(docs) == 100 and "one token fewer than the paper" in caplog.text
    first = docs[0]
    text = first["context"] + first["continuations"][0]
    ids = tokenizer(text)["input_ids"]
    assert (
        text.startswith("<s>[INST]")
        and ids[:2] == [tokenizer.bos_token_id] * 2
        and first["n_tokens"][0] == len(ids) - 2
    )


def test_a_first_token_that_is_part_of_a_character_is_refused(data_dir: Path) -> None:
    from brainbench.data import load_dataset
    from brainbench.integrations.lm_eval.documents import case_document

    dataset = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    case = next(
        case for case in dataset.cases if case.original.startswith("α")
    )  # two bytes, two tokens of the tiny BPE
    with pytest.raises(
        InputError, match=rf"BrainBench_Human_v0.1.csv:{case.line}: item {case.item_id}: the first token"
    ):
        case_document(case, (0, 1), Template("none", "<choice abstract>"), tiny_tokenizer(with_bos=False), dataset)


# --- importing lm-eval's samples ----------------------------------------------------------------------------


def write_samples(
    folder: Path,
    documents: list[dict],
    logliks: list[list[float]],
    date: str = "2026-01-01T00-00-00.000001",
    task: str = "brainbench_human",
) -> Path:
    """A samples file and a results file as lm-eval 0.4.13 writes them (numbers as strings, arguments as gen_args_N)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for doc_id, (doc, values) in enumerate(zip(documents, logliks)):
        arguments = {
            f"gen_args_{k}": {"arg_0": doc["context"], "arg_1": cont} for k, cont in enumerate(doc["continuations"])
        }
        lines.append(
            json.dumps(
                {
                    "doc_id": doc_id,
                    "doc": doc,
                    "target": str(doc["label"]),
                    "arguments": arguments,
                    "resps": [[[str(v), "False"]] for v in values],
                    "filtered_resps": [[str(v), "False"] for v in values],
                }
            )
        )
    (folder / f"samples_{task}_{date}.jsonl").write_text("\n".join(lines) + "\n")
    results = {
        "config": {"model": "hf", "model_args": {"pretrained": "org/tiny", "dtype": "float32"}},
        "lm_eval_version": "0.4.13",
    }
    (folder / f"results_{date}.json").write_text(json.dumps(results))
    return folder


def sample_document(item_id: int, shown: list[int], n_tokens: list[int]) -> dict:
    return {
        "item_id": item_id,
        "doi": f"10.1/{item_id}",
        "subfield": "Systems/Circuits",
        "source": "human",
        "shown": shown,
        "label": shown.index(0),
        "context": "You",
        "continuations": [" saw A.", " saw B."],
        "n_tokens": n_tokens,
        "n_bytes": [10, 10],
        "dataset": "brainbench-human",
        "dataset_sha256": "abc",
        "texts": "released",
        "template": "gpt2",
        "template_sha256": "def",
        "seed": 42,
    }


def test_import_lm_eval_samples_by_hand(tmp_path: Path) -> None:
    # item 0: A real (-4 over 2 tokens, PPL e^2) beats B (-9 over 3, PPL e^3): right.
    # item 1: A altered (-3 over 3, PPL e) beats B real (-6 over 3, PPL e^2): wrong.
    write_samples(
        tmp_path / "out" / "org__tiny",
        [sample_document(0, [0, 1], [2, 3]), sample_document(1, [1, 0], [3, 3])],
        [[-4.0, -9.0], [-3.0, -6.0]],
    )
    result = runner.invoke(app, ["import-lm-eval", str(tmp_path / "out"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [record["choice"] for record in records] == ["A", "A"] and [record["correct"] for record in records] == [
        True,
        False,
    ]
    assert records[0]["ppl_original"] == pytest.approx(math.exp(2)) and records[0]["ppl_altered"] == pytest.approx(
        math.exp(3)
    )
    assert records[1]["ppl_original"] == pytest.approx(math.exp(2)) and records[1]["ppl_b"] == pytest.approx(
        math.exp(2)
    )
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (
        info["spec"]["backend"] == "lm-eval"
        and info["spec"]["model"] == "org/tiny"
        and info["spec"]["dtype"] == "float32"
    )
    assert info["model"] == "org/tiny" and info["spec"]["template"] == "gpt2" and info["n_requested"] == 2
    summary = runner.invoke(app, ["summary", str(tmp_path / "run"), "--json"])
    assert summary.exit_code == 0 and json.loads(summary.stdout)["accuracy"] == 0.5


def test_an_imported_model_is_named_by_its_gguf_file_else_its_id() -> None:
    from brainbench.integrations.lm_eval.samples import default_model_name, model_arguments

    gguf = {"config": {"model_args": "pretrained=/models/smol,gguf_file=/models/smol/SmolLM2.Q4_1.gguf"}}
    assert default_model_name(model_arguments(gguf)) == "SmolLM2.Q4_1"
    assert default_model_name({"pretrained": "org/tiny"}) == "org/tiny" and default_model_name({}) == "lm-eval model"


def test_the_newest_samples_of_a_task_are_imported(tmp_path: Path) -> None:
    write_samples(tmp_path, [sample_document(0, [0, 1], [2, 3])], [[-4.0, -9.0]], date="2026-01-01T00-00-00.000001")
    write_samples(tmp_path, [sample_document(0, [0, 1], [2, 3])], [[-9.0, -4.0]], date="2026-02-01T00-00-00.000001")
    (tmp_path / "samples_arc_easy_2026-03-01T00-00-00.000001.jsonl").write_text(
        json.dumps({"doc": {"question": "?"}}) + "\n"
    )
    found = find_samples(tmp_path)
    assert list(found) == ["brainbench_human"] and "2026-02-01" in found["brainbench_human"].path.name
    assert import_lm_eval_samples(found["brainbench_human"], tmp_path / "run")["accuracy"] == 0.0


def test_a_group_gives_one_run_per_task(tmp_path: Path) -> None:
    write_samples(tmp_path / "out", [sample_document(0, [0, 1], [2, 3])], [[-4.0, -9.0]])
    gpt4 = {**sample_document(0, [0, 1], [2, 3]), "dataset": "brainbench-gpt4"}
    write_samples(tmp_path / "out", [gpt4], [[-9.0, -4.0]], task="brainbench_gpt4")
    result = runner.invoke(app, ["import-lm-eval", str(tmp_path / "out"), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.stderr
    summaries = {
        task: json.loads((tmp_path / "runs" / task / "summary.json").read_text())
        for task in ("brainbench_human", "brainbench_gpt4")
    }
    assert summaries["brainbench_human"]["accuracy"] == 1.0 and summaries["brainbench_gpt4"]["accuracy"] == 0.0
    assert summaries["brainbench_gpt4"]["dataset"] == "brainbench-gpt4"


def test_samples_scored_with_another_prompt_are_refused(tmp_path: Path) -> None:
    write_samples(
        tmp_path, [sample_document(0, [0, 1], [2, 3]), sample_document(1, [1, 0], [3, 3])], [[-4.0, -9.0], [-3.0, -6.0]]
    )
    path = next(tmp_path.glob("samples_*.jsonl"))
    lines = path.read_text().splitlines()
    chat = json.loads(lines[1])
    chat["arguments"]["gen_args_0"]["arg_0"] = "<|im_start|>user\nYou"  # --apply_chat_template
    path.write_text("\n".join([lines[0], json.dumps(chat)]) + "\n")
    with pytest.raises(InputError, match=r"samples_brainbench_human_.*\.jsonl:2: lm-eval scored other texts"):
        import_lm_eval_samples(find_samples(tmp_path)["brainbench_human"], tmp_path / "run")


def test_import_lm_eval_mistakes(tmp_path: Path) -> None:
    nothing = runner.invoke(app, ["import-lm-eval", str(tmp_path), "--out", str(tmp_path / "run")])
    assert nothing.exit_code == 1 and "no samples of a brainbench task here" in nothing.stderr
    write_samples(tmp_path / "out", [sample_document(0, [0, 1], [2, 3])], [[-4.0, -9.0]])
    wrong = runner.invoke(
        app, ["import-lm-eval", str(tmp_path / "out"), "--out", str(tmp_path / "run"), "--task", "brainbench_gpt4"]
    )
    assert wrong.exit_code == 1 and "the samples here are of brainbench_human" in wrong.stderr


# --- the task package on disk -------------------------------------------------------------------------------


def test_tasks_path_and_written_copy(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["tasks", "--path"])
    assert shown.exit_code == 0 and Path(shown.stdout.strip()) == TASK_DIR
    written = runner.invoke(app, ["tasks", "lm-eval", str(tmp_path / "pkg")])
    assert written.exit_code == 0, written.stderr
    names = {
        "brainbench_human.yaml",
        "brainbench_gpt4.yaml",
        "_brainbench.yaml",
        "_brainbench_template_yaml",
        "utils.py",
        "README.md",
    }
    assert {path.name for path in (tmp_path / "pkg").iterdir()} == names
    assert all((tmp_path / "pkg" / name).read_bytes() == (TASK_DIR / name).read_bytes() for name in names)


# --- lm_eval itself on the embedded model, against brainbench run (slow) --------------------------------------


@pytest.mark.slow
def test_lm_eval_run_equals_brainbench_run(tmp_path: Path, data_dir: Path, embedded_run: Path) -> None:
    """lm-eval on the embedded model (its unpacked transformers folder: the same weights as the GGUF file, read in
    a second instead of 20) against the session's ``brainbench run`` of the same items."""
    pytest.importorskip("lm_eval")
    from brainbench.scoring.embedded import embedded_model_folder

    env = {
        **os.environ,
        "BRAINBENCH_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(Path(brainbench.__file__).parents[1]),
        "TQDM_DISABLE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "lm_eval",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={embedded_model_folder()},dtype=float32",
        "--include_path",
        str(TASK_DIR),
        "--tasks",
        "brainbench_human",
        "--limit",
        "4",  # lm-eval's own loop: about 5 s per text here
        "--log_samples",
        "--output_path",
        str(tmp_path / "lm-eval"),
        "--device",
        "cpu",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    ours = [json.loads(line) for line in (embedded_run / "results.jsonl").read_text().splitlines()][:4]

    # lm-eval's own per-sample numbers: PPL per position = exp(-loglik / n_tokens), the lower one chosen
    [samples_file] = (tmp_path / "lm-eval").rglob("samples_brainbench_human_*.jsonl")
    samples = sorted(
        (json.loads(line) for line in samples_file.read_text().splitlines()),
        key=lambda sample: sample["doc"]["item_id"],
    )
    assert [sample["doc"]["item_id"] for sample in samples] == [record["item_id"] for record in ours] == list(range(4))
    for sample, record in zip(samples, ours):
        ppl = [
            math.exp(-float(loglik) / n) for (loglik, _), n in zip(sample["filtered_resps"], sample["doc"]["n_tokens"])
        ]
        assert ppl == pytest.approx([record["ppl_a"], record["ppl_b"]], rel=1e-4)
        assert "AB"[ppl.index(min(ppl))] == record["choice"] and sample["acc"] == float(record["correct"])
        assert sample["doc"]["shown"] == record["shown"] and sample["doc"]["template"] == "gpt2"

    result = runner.invoke(app, ["import-lm-eval", str(tmp_path / "lm-eval"), "--out", str(tmp_path / "imported")])
    assert result.exit_code == 0, result.stderr
    imported = [json.loads(line) for line in (tmp_path / "imported" / "results.jsonl").read_text().splitlines()]
    for theirs, record in zip(imported, ours, strict=True):
        assert {key: theirs[key] for key in ("item_id", "doi", "subfield", "shown", "choice", "correct")} == {
            key: record[key] for key in ("item_id", "doi", "subfield", "shown", "choice", "correct")
        }
        assert [o["n_tokens"] for o in theirs["options"]] == [o["n_tokens"] for o in record["options"]]
        assert [o["n_bytes"] for o in theirs["options"]] == [o["n_bytes"] for o in record["options"]]
        assert [o["ppl"] for o in theirs["options"]] == pytest.approx([o["ppl"] for o in record["options"]], rel=1e-4)

    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "imported"),
            str(embedded_run),
            "--out",
            str(report),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert embedded_model_folder().name in report.read_text()
