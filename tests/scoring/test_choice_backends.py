"""The choice protocol through its backends: a scripted OpenAI-compatible chat server (fast), a real
llama-cpp-python server with the embedded model, and the local transformers chat path (slow)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from tests.servers import http_server

runner = CliRunner()


class ExpertServer(BaseHTTPRequestHandler):
    """A chat server that knows the answers: it picks the abstract that says "rose" (the real one in the cases below),
    refuses where an abstract says REFUSE and answers nonsense where one says GARBAGE. With ``logprobs`` asked for
    and ``gives_logprobs``, it returns them (P = 0.9 for its letter); otherwise none."""

    gives_logprobs = True
    requests: ClassVar[list[dict]] = []

    def do_GET(self) -> None:
        self._reply({"data": [{"id": "expert"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        content = body["messages"][-1]["content"]
        abstracts = dict(re.findall(r"Abstract ([A-H]):\n(.*)", content))
        if any("REFUSE" in text for text in abstracts.values()):
            text = "I cannot determine which abstract is real."
        elif any("GARBAGE" in text for text in abstracts.values()):
            text = "Perhaps both, perhaps neither."
        else:
            letter = next(letter for letter, text in abstracts.items() if "rose" in text)
            text = f"Abstract {letter}" if body["temperature"] == 0 else letter
        message: dict = {"choices": [{"message": {"role": "assistant", "content": text}}]}
        if body.get("logprobs") and type(self).gives_logprobs:
            letter = text.split()[-1]
            other = "B" if letter == "A" else "A"
            message["choices"][0]["logprobs"] = {
                "content": [
                    {"token": "Abstract", "logprob": -0.01, "top_logprobs": [{"token": "Abstract", "logprob": -0.01}]},
                    {
                        "token": f" {letter}",
                        "logprob": math.log(0.9),
                        "top_logprobs": [
                            {"token": f" {letter}", "logprob": math.log(0.9)},
                            {"token": f" {other}", "logprob": math.log(0.1)},
                        ],
                    },
                ]
            }
        self._reply(message)

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def expert_server() -> Iterator[tuple[str, type[ExpertServer]]]:
    handler = type("Handler", (ExpertServer,), {"requests": [], "gives_logprobs": True})
    with http_server(handler) as url:
        yield f"{url}/v1", handler


def _cases(tmp_path: Path, extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "cases.csv"
    rows = [f'd{i},Systems/Circuits,"Mice ran. Firing [[rose, fell]] in area {i}."' for i in range(3)]
    if extra:
        rows.append(f'd9,Systems/Circuits,"Mice ran. Firing [[rose, fell]] {extra}."')
    path.write_text("doi,journal_section,combined_abstract\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _run(tmp_path: Path, url: str, *more: str, extra: str = "") -> tuple[int, dict, list[dict], str]:
    out = tmp_path / "run"
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
            str(_cases(tmp_path, extra)),
            "--out",
            str(out),
            "--store",
            str(tmp_path / "s.sqlite"),
            "--json",
            *more,
        ],
    )
    if result.exit_code != 0:
        return result.exit_code, {}, [], result.stderr
    return (
        0,
        json.loads(result.stdout),
        [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()],
        result.stderr,
    )


def test_both_orders_with_logprobs(tmp_path: Path, expert_server) -> None:
    url, handler = expert_server
    code, summary, records, stderr = _run(tmp_path, url)
    assert code == 0, stderr
    assert len(handler.requests) == 6 and all(
        request["logprobs"] and request["top_logprobs"] == 20 for request in handler.requests
    )
    orders = [
        [line.split("\n")[1] for line in re.findall(r"Abstract [AB]:\n.*", request["messages"][-1]["content"])]
        for request in handler.requests
    ]
    assert sorted(map(tuple, orders)) == sorted(
        {(a, b) for a, b in orders} | {(b, a) for a, b in orders}
    )  # every case in both orders
    assert (
        summary["accuracy"] == 1.0 and summary["choice"]["position_bias_a"] == 0.5
    )  # both orders: half the answers are A
    assert summary["choice"]["accuracy_by_order"] == {"asked order": 1.0, "reversed order": 1.0}
    assert all(
        record["p_versions"] == pytest.approx([0.9, 0.1]) and record["confidence"] == pytest.approx(0.9)
        for record in records
    )
    assert {answer["source"] for record in records for answer in record["answers"]} == {"logprobs"}
    # downstream: the choice run beside a perplexity run of the same cases, in compare (McNemar) and the report
    from brainbench.data.files import load_cases
    from brainbench.runs import run_benchmark
    from tests.fakes import FakeScorer

    run_benchmark(
        load_cases(tmp_path / "cases.csv"), FakeScorer(), tmp_path / "perplexity", store=tmp_path / "s.sqlite"
    )
    compared = runner.invoke(app, ["compare", str(tmp_path / "run"), str(tmp_path / "perplexity"), "--json"])
    assert compared.exit_code == 0, compared.stderr
    paired = json.loads(compared.stdout)["paired"]
    assert paired["n_items"] == 3 and paired["accuracy_a"] == 1.0 and "mcnemar_p" in paired
    report = runner.invoke(
        app, ["report", str(tmp_path / "run"), str(tmp_path / "perplexity"), "--out", str(tmp_path / "r.html")]
    )
    assert report.exit_code == 0, report.stderr


def test_samples_without_logprobs_and_answers_that_cannot_count(tmp_path: Path, expert_server) -> None:
    url, handler = expert_server
    handler.gives_logprobs = False
    code, summary, _, stderr = _run(tmp_path, url, extra="REFUSE")
    assert code == 0 and summary["n_errors"] == 4, stderr  # every case an error that names --samples
    assert all(
        "returned no log-probabilities for the answer: pass --samples K" in error
        for error in summary["errors"].values()
    )
    code, summary, records, stderr = _run(tmp_path / "samples", url, "--samples", "3", extra="REFUSE")
    assert code == 0, stderr
    sampled = [request for request in handler.requests if request["temperature"] == 1.0]
    assert all("logprobs" not in request for request in sampled) and len({request["seed"] for request in sampled}) >= 3
    refused = next(record for record in records if record["doi"] == "d9")
    assert (
        refused["status"] == "unanswered" and "correct" not in refused
    )  # recorded with its texts, never right or wrong
    assert refused["answers"][0]["status"] == "refused" and "I cannot determine" in refused["answers"][0]["texts"][0]
    assert len(refused["answers"][0]["texts"]) == 3 * 3  # 3 samples, each asked 3 times (2 retries)
    assert summary["n_scored"] == 3 and summary["accuracy"] == 1.0 and summary["choice"]["n_unanswered"] == 1
    assert summary["choice"]["n_refused"] == 2 and summary["choice"]["confidence_from"] == ["samples"]
    garbage_dir = tmp_path / "garbage"
    handler.gives_logprobs = True
    code, summary, records, _ = _run(garbage_dir, url, extra="GARBAGE")
    unreadable = next(record for record in records if record["doi"] == "d9")
    assert (
        unreadable["answers"][0]["status"] == "unreadable"
        and unreadable["answers"][0]["texts"] == ["Perhaps both, perhaps neither."] * 3
    )
    assert summary["choice"]["n_unreadable"] == 2 and summary["n_scored"] == 3


def test_choice_options_are_checked_before_loading(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--protocol", "choice", "--backend", "openai-completions", "--base-url", "http://127.0.0.1:1/v1"]
    )
    assert result.exit_code == 1 and "gives no answers; use transformers or openai-chat" in result.stderr
    result = runner.invoke(app, ["run", "--samples", "3", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "are for --protocol choice" in result.stderr
    result = runner.invoke(app, ["run", "--protocol", "choice", "--template", "gpt2", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "leave --template out" in result.stderr


@pytest.mark.slow
def test_the_server_and_the_local_chat_model_agree(tmp_path: Path, data_dir: Path, served_choice_run: Path) -> None:
    """The embedded instruct model through llama-cpp-python's chat endpoint (the session's run), and locally through
    transformers: both orders asked, log-probabilities read, the same answer letters; probabilities close
    (quantised weights)."""
    local = runner.invoke(
        app,
        [
            *("run", "--protocol", "choice", "--items", "0-3", "--data-dir", str(data_dir), "--offline", "--json"),
            *("--out", str(tmp_path / "local"), "--store", str(tmp_path / "s.sqlite")),
        ],
    )
    assert local.exit_code == 0, local.stderr
    served = json.loads((served_choice_run / "summary.json").read_text())
    summaries = served, json.loads(local.stdout)
    assert all("position_bias_a" in summary["choice"] for summary in summaries)
    records = [
        [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        for run_dir in (served_choice_run, tmp_path / "local")
    ]
    for by_server, by_local in zip(*records):
        for a, b in zip(by_server["answers"], by_local["answers"]):
            assert a["source"] == b["source"] == "logprobs" and a["letter"] == b["letter"]
            assert a["probabilities"]["A"] == pytest.approx(b["probabilities"]["A"], abs=0.05)
