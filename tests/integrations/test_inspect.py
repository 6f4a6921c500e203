"""The Inspect task: brainbench's question in both orders, answers read and their confidence taken as `brainbench run
--protocol choice` does, and Inspect's log back as a run directory equal to `brainbench run`'s: against a scripted chat
server (fast) and the embedded instruct model behind llama-cpp-python's server (slow)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.errors import InputError
from tests.scoring.test_choice_backends import ExpertServer, _cases
from tests.servers import http_server

inspect_ai = pytest.importorskip("inspect_ai")
from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, Logprob, Logprobs, ModelOutput, TopLogprob
from inspect_ai.scorer import SampleScore, Score

from brainbench.data import load_dataset
from brainbench.integrations.inspect_log import find_logs, import_inspect_log
from brainbench.integrations.inspect_task import (
    answer_of,
    answered,
    brainbench_task,
    case_accuracy,
    human,
    position_bias_a,
)
from brainbench.scoring.choice import messages

runner = CliRunner()


# --- the questions ------------------------------------------------------------------------------------------


def test_each_case_is_asked_in_both_orders_with_brainbenchs_question(data_dir: Path) -> None:
    task = human(items="0-2", data_dir=str(data_dir))
    cases = {case.item_id: case for case in load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases}
    samples = list(task.dataset)
    assert [sample.id for sample in samples] == ["0-0", "0-1", "1-0", "1-1", "2-0", "2-1"]
    assert [sample.metadata["shown"] for sample in samples[:4]] == [
        [0, 1],
        [1, 0],
        [1, 0],
        [0, 1],
    ]  # the paper's seed-42 A/B order, then reversed
    for sample in samples:
        shown = sample.metadata["shown"]
        case = cases[sample.metadata["item_id"]]
        assert [{"role": "user", "content": sample.input[0].content}] == messages(
            [case.options[version] for version in shown]
        )
        assert sample.target == "AB"[shown.index(0)] and sample.metadata["doi"] == case.doi
    assert (
        task.config.temperature == 0
        and task.config.logprobs
        and task.config.top_logprobs == 20
        and task.config.seed == 42
    )
    assert task.metadata["dataset"] == "brainbench-human" and task.metadata["prompt"] == "choice-v1"
    assert [sample.id for sample in human(items=5, data_dir=str(data_dir)).dataset] == [
        "5-0",
        "5-1",
    ]  # -T items=5 arrives as a number


# --- answers, confidence and metrics, by hand ---------------------------------------------------------------


def output(text: str, steps: list[tuple[str, dict[str, float]]] | None) -> ModelOutput:
    logprobs = (
        None
        if steps is None
        else Logprobs(
            content=[
                Logprob(
                    token=token,
                    logprob=math.log(top[token]),
                    top_logprobs=[TopLogprob(token=t, logprob=math.log(p)) for t, p in top.items()],
                )
                for token, top in steps
            ]
        )
    )
    return ModelOutput(
        model="m", choices=[ChatCompletionChoice(message=ChatMessageAssistant(content=text), logprobs=logprobs)]
    )


def test_the_answer_and_its_confidence() -> None:
    # at the letter token: " B" 0.6, "B" 0.1, " A" 0.2, " The" 0.05 -> P(B) = 0.7 / 0.9, P(A) = 0.2 / 0.9
    reply = output(
        "Abstract B", [("Abstract", {"Abstract": 0.99}), (" B", {" B": 0.6, " A": 0.2, "B": 0.1, " The": 0.05})]
    )
    answer = answer_of(reply, ["I cannot tell.", "Abstract B"], 2)
    assert (answer.status, answer.letter, answer.source, answer.attempts) == ("answered", "B", "logprobs", 2)
    assert answer.probabilities == pytest.approx({"A": 0.2 / 0.9, "B": 0.7 / 0.9})
    plain = answer_of(output("(A)", None), ["(A)"], 2)  # a provider without log-probabilities
    assert (plain.status, plain.letter, plain.probabilities, plain.source) == ("answered", "A", None, "none")
    refused = answer_of(
        output("I cannot determine which is real.", None), ["x", "y", "I cannot determine which is real."], 2
    )
    assert (refused.status, refused.letter, refused.attempts) == ("refused", None, 3)


def sample_score(item_id: int, shown: list[int], status: str, letter: str | None, p_a: float | None) -> SampleScore:
    probabilities = None if p_a is None else {"A": p_a, "B": 1 - p_a}
    answer = {
        "status": status,
        "letter": letter,
        "probabilities": probabilities,
        "texts": [],
        "source": "logprobs",
        "attempts": 1,
    }
    return SampleScore(
        score=Score(value="C", metadata=answer),
        sample_id=f"{item_id}-x",
        sample_metadata={"item_id": item_id, "shown": shown},
    )


def test_the_metrics_combine_both_orders() -> None:
    scores = [
        # item 0: right in both orders (P 0.9) -> right
        sample_score(0, [0, 1], "answered", "A", 0.9),
        sample_score(0, [1, 0], "answered", "B", 0.1),
        # item 1: P(real) = (0.2 + 0.6) / 2 = 0.4 -> wrong
        sample_score(1, [1, 0], "answered", "A", 0.8),
        sample_score(1, [0, 1], "answered", "A", 0.6),
        # item 2: refused twice -> not counted
        sample_score(2, [0, 1], "refused", None, None),
        sample_score(2, [1, 0], "refused", None, None),
    ]
    assert case_accuracy()(scores) == 0.5
    assert answered()(scores) == pytest.approx(4 / 6)
    assert position_bias_a()(scores) == 0.75  # A, B, A, A


# --- Inspect against a scripted chat server, and the log back (fast) ---------------------------------------


class OpenAIExpert(ExpertServer):
    """The scripted expert of the choice-protocol tests, with the fields of a full OpenAI reply (Inspect reads them)."""

    def _reply(self, body: dict) -> None:
        if "choices" in body:
            body = {
                "id": "reply",
                "object": "chat.completion",
                "created": 0,
                "model": "expert",
                **body,
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            body["choices"][0] |= {"index": 0, "finish_reason": "stop"}
        super()._reply(body)


@pytest.fixture()
def expert_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type[OpenAIExpert]]]:
    handler = type("Handler", (OpenAIExpert,), {"requests": [], "gives_logprobs": True})
    monkeypatch.setenv("EXPERT_API_KEY", "none")
    with http_server(handler) as url:
        yield f"{url}/v1", handler


def inspect_eval(task, url: str, log_dir: Path, **options) -> Path:
    [log] = inspect_ai.eval(
        task, model="openai-api/expert/expert", model_base_url=url, log_dir=str(log_dir), display="none", **options
    )
    assert log.status == "success", log.error
    return Path(log.location)


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_inspect_and_brainbench_run_give_the_same_records(tmp_path: Path, expert_url) -> None:
    url, handler = expert_url
    cases = _cases(tmp_path, extra="REFUSE")  # three cases the expert gets right, one it refuses
    log = inspect_eval(brainbench_task(cases), url, tmp_path / "logs")
    asked = list(handler.requests)
    assert all(
        request["logprobs"]
        and request["top_logprobs"] == 20
        and request["max_tokens"] == 16
        and request["temperature"] == 0
        for request in asked
    )
    refused = [request["seed"] for request in asked if "REFUSE" in request["messages"][0]["content"]]
    assert sorted(refused) == [42, 42, 43, 43, 44, 44]  # both orders, asked again twice (seeds 42, 43, 44)

    result = runner.invoke(app, ["import-inspect", str(tmp_path / "logs"), "--out", str(tmp_path / "imported")])
    assert result.exit_code == 0, result.stderr
    assert "accuracy 100.0% (1 unanswered, P(A) 0.50)" in result.stderr
    result = runner.invoke(
        app,
        [
            "run",
            "--protocol",
            "choice",
            "--backend",
            "openai-chat",
            "--base-url",
            url,
            "--dataset",
            str(cases),
            "--out",
            str(tmp_path / "brainbench"),
            "--store",
            str(tmp_path / "s.sqlite"),
        ],
    )
    assert result.exit_code == 0, result.stderr

    def questions(requests: list[dict]) -> list[tuple[str, int]]:
        return sorted((json.dumps(request["messages"], sort_keys=True), request["seed"]) for request in requests)

    assert questions(handler.requests[len(asked) :]) == questions(
        asked
    )  # the same questions, asked as often, with the same seeds

    same = (
        "item_id",
        "doi",
        "subfield",
        "status",
        "label",
        "shown",
        "answers",
        "p_versions",
        "choice",
        "correct",
        "confidence",
    )
    imported, ours = read_records(tmp_path / "imported"), read_records(tmp_path / "brainbench")
    assert [{key: record.get(key) for key in same} for record in imported] == [
        {key: record.get(key) for key in same} for record in ours
    ]
    assert imported[0]["p_versions"] == pytest.approx([0.9, 0.1]) and imported[3]["status"] == "unanswered"
    summaries = [json.loads((tmp_path / name / "summary.json").read_text()) for name in ("imported", "brainbench")]
    assert summaries[0]["choice"] == summaries[1]["choice"]
    info = json.loads((tmp_path / "imported" / "run.json").read_text())
    assert (
        info["spec"]["backend"] == "inspect"
        and info["spec"]["protocol"] == "choice"
        and info["model"] == "openai-api/expert/expert"
    )
    assert (
        info["spec"]["template_sha256"]
        == json.loads((tmp_path / "brainbench" / "run.json").read_text())["spec"]["template_sha256"]
    )
    assert find_logs(log) == find_logs(tmp_path / "logs")


def test_logs_that_are_not_brainbenchs_protocol_are_refused(tmp_path: Path, expert_url) -> None:
    url, _ = expert_url
    cases = _cases(tmp_path)
    pirate = inspect_eval(brainbench_task(cases), url, tmp_path / "pirate", system_message="Answer like a pirate.")
    with pytest.raises(InputError, match=r"sample 0-0: the model was sent other messages than the task's question"):
        import_inspect_log(pirate, tmp_path / "run")
    warm = inspect_eval(brainbench_task(cases), url, tmp_path / "warm", temperature=0.7)
    with pytest.raises(InputError, match=r"asked at temperature 0.7; brainbench's choice protocol asks greedily"):
        import_inspect_log(warm, tmp_path / "run")
    nothing = runner.invoke(app, ["import-inspect", str(tmp_path / "empty"), "--out", str(tmp_path / "run")])
    assert nothing.exit_code == 1 and "no such file or folder" in nothing.stderr
    (tmp_path / "other.json").write_text("{}")
    other = runner.invoke(app, ["import-inspect", str(tmp_path / "other.json"), "--out", str(tmp_path / "run")])
    assert other.exit_code == 1 and "other.json: not an Inspect log" in other.stderr
    folder = runner.invoke(
        app, ["import-inspect", str(tmp_path), "--out", str(tmp_path / "run")]
    )  # one task: its newest log
    assert folder.exit_code == 1 and "asked at temperature 0.7" in folder.stderr


def test_a_case_cut_in_half_is_left_out_and_the_run_is_partial(tmp_path: Path, expert_url) -> None:
    url, _ = expert_url
    log = inspect_eval(
        brainbench_task(_cases(tmp_path)), url, tmp_path / "logs", limit=3
    )  # Inspect's --limit counts questions
    summary = import_inspect_log(log, tmp_path / "run")
    assert summary["n_items"] == 1 and summary["n_requested"] == 2 and summary["partial"]
    assert [record["item_id"] for record in read_records(tmp_path / "run")] == [0]


# --- inspect eval brainbench/human on the embedded model (the entry point pip registered) vs brainbench run ---


@pytest.mark.slow
def test_inspect_eval_on_the_embedded_model_agrees_with_brainbench_run(
    tmp_path: Path, data_dir: Path, llama_server: str, served_choice_run: Path
) -> None:
    """inspect eval through the session's llama.cpp server against the session's brainbench run of the same
    items through it (``served_choice_run``)."""
    env = {
        **os.environ,
        "BRAINBENCH_DATA_DIR": str(data_dir),
        "LLAMACPP_API_KEY": "none",
    }
    command = [
        sys.executable,
        "-m",
        "inspect_ai",
        "eval",
        "brainbench/human",
        "-T",
        "items=0-3",
        "--model",
        "openai-api/llamacpp/smollm2",
        "--model-base-url",
        llama_server,
        "--log-dir",
        str(tmp_path / "logs"),
        "--display",
        "plain",
        "--max-connections",
        "2",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = runner.invoke(app, ["import-inspect", str(tmp_path / "logs"), "--out", str(tmp_path / "imported")])
    assert result.exit_code == 0, result.stderr
    imported, ours = read_records(tmp_path / "imported"), read_records(served_choice_run)
    assert [record["item_id"] for record in imported] == [record["item_id"] for record in ours] == [0, 1, 2, 3]
    # The server reuses the longest prompt prefix it still holds, so the same request after a different one is
    # evaluated in other batches: probabilities agree to about 1e-3, and a near-tie (margin under 0.02) may flip.
    for theirs, record in zip(imported, ours, strict=True):
        assert (theirs["status"], theirs["shown"]) == (record["status"], record["shown"])
        clear = True
        for a, b in zip(theirs["answers"], record["answers"], strict=True):
            assert (a["shown"], a["status"], a["texts"], a["source"]) == (
                b["shown"],
                b["status"],
                b["texts"],
                b["source"],
            )
            if a["probabilities"]:
                assert a["probabilities"] == pytest.approx(b["probabilities"], abs=0.01)
                top, second = sorted(b["probabilities"].values(), reverse=True)[:2]
                if top - second < 0.02:
                    clear = False
                    continue
            assert a["letter"] == b["letter"]
        if clear:
            assert (theirs.get("choice"), theirs.get("correct")) == (record.get("choice"), record.get("correct"))
    assert {
        answer["source"] for record in imported for answer in record["answers"] if answer["status"] == "answered"
    } == {"logprobs"}

    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "imported"),
            str(served_choice_run),
            "--out",
            str(report),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "openai-api--llamacpp--smollm2" in report.read_text()  # tables name models by model_key
