"""The llama-cpp and openai-completions backends: against a real llama-cpp-python server on
127.0.0.1 and the transformers backend (slow), and the client's handling of servers that
misbehave (a small scripted HTTP server, fast)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from brainbench.data import load_dataset
from brainbench.errors import BackendError
from brainbench.scoring import load_scorer
from brainbench.scoring.hf import HFScorer, embedded_model_file
from brainbench.scoring.llamacpp import dequantize_gguf
from tests.servers import http_server, serving

TEXTS = (
    "Dopamine neurons increased their firing after reward.",
    "Dopamine neurons decreased their firing after reward.",
)


@pytest.mark.slow
def test_llama_cpp_in_process_agrees_with_transformers(embedded_scorer: HFScorer, data_dir: Path) -> None:
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:2]
    pairs = [(case.original, case.altered) for case in cases] + [TEXTS]
    llama = load_scorer("llama-cpp")
    for llama_pair, hf_pair in zip(llama.score_options(pairs), embedded_scorer.score_options(pairs)):
        for llama_scores, hf_scores in zip(llama_pair, hf_pair):
            assert llama_scores.n_text_tokens == hf_scores.n_text_tokens  # the same tokens
            assert llama_scores.ppl == pytest.approx(hf_scores.ppl, rel=0.05)  # quantised vs dequantised weights
    alone = [llama.score_texts(list(pair)) for pair in pairs]  # sharing the prefix changes nothing
    assert [s.ppl for pair in alone for s in pair] == pytest.approx(
        [s.ppl for pair in llama.score_options(pairs) for s in pair], rel=1e-6
    )


@pytest.mark.slow
def test_without_quantization_llama_cpp_and_transformers_agree_to_1e_3(data_dir: Path, tmp_path: Path) -> None:
    cases = load_dataset("brainbench-human", data_dir=data_dir, offline=True).cases[:2]
    pairs = [(case.original, case.altered) for case in cases]
    float32_copy = dequantize_gguf(embedded_model_file(), tmp_path / "smollm2-f32.gguf")
    by_llama = [s.ppl for pair in load_scorer("llama-cpp", model=str(float32_copy)).score_options(pairs) for s in pair]
    by_transformers = [
        s.ppl for pair in load_scorer("transformers", model=str(float32_copy)).score_options(pairs) for s in pair
    ]
    assert by_llama == pytest.approx(by_transformers, rel=1e-3)


@pytest.mark.slow
def test_llama_cpp_python_server_is_refused_for_its_misaligned_logprobs(llama_server: str) -> None:
    """llama-cpp-python's server (0.3.36) pairs echoed token i with the distribution after token i
    (which predicts token i + 1): brainbench must refuse it rather than score garbage."""
    import numpy as np

    served = load_scorer("openai-completions", base_url=llama_server, model=None, concurrency=2)
    assert served.name == "smollm2"
    with pytest.raises(BackendError, match="fail a sanity check.*llama-cpp-python's server"):
        served.score_texts([TEXTS[0]])

    # What the client read is exactly what the server computed: in-process llama.cpp, shifted by one row.
    served.verify_alignment = False
    from_server = served.score_texts([TEXTS[0]])[0].token_logprobs
    llama = load_scorer("llama-cpp")
    ids = llama.tokenize(TEXTS[0])
    llama.score_texts([TEXTS[0]])
    logits = np.asarray(llama.llm.scores[: len(ids)], dtype=np.float64)
    rows = logits - (
        logits.max(axis=1, keepdims=True)
        + np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
    )
    shifted = [rows[i, ids[i]] for i in range(1, len(ids))]
    assert list(from_server) == pytest.approx(shifted, abs=2e-3)


@pytest.mark.slow
def test_scoring_through_llama_cpp_python_server_for_a_model_with_a_bos_token(tmp_path: Path) -> None:
    """With a BOS in front, the server's echo is aligned: the probe passes, and every log-probability
    read from it is in-process llama.cpp's (but the first text token's, which the OpenAI format nulls)."""
    with_bos = dequantize_gguf(
        embedded_model_file(), tmp_path / "with-bos.gguf", {"tokenizer.ggml.add_bos_token": True}
    )
    local = load_scorer("llama-cpp", model=str(with_bos))
    expected = local.score_texts(list(TEXTS))
    del local  # free its memory before the server loads the same model
    with serving(with_bos, tmp_path) as base_url:
        served = load_scorer("openai-completions", base_url=base_url, model=None, concurrency=2)
        scored = served.score_texts(list(TEXTS))
    assert not served.verify_alignment  # the probe ran and passed
    for from_server, in_process in zip(scored, expected):
        assert in_process.n_text_tokens == from_server.n_text_tokens  # BOS included in both counts
        assert list(from_server.token_logprobs) == pytest.approx(in_process.token_logprobs[1:], abs=1e-4)


class _ScriptedServer(BaseHTTPRequestHandler):
    """Answers from a script: each POST takes the next (status, body) from ``answers``."""

    answers: ClassVar[list[tuple[int, dict]]] = []
    requests: ClassVar[list[dict]] = []

    def do_GET(self) -> None:
        self._reply(200, {"data": [{"id": "scripted"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        status, answer = type(self).answers.pop(0)
        self._reply(status, answer)

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def scripted_server() -> Iterator[tuple[str, type[_ScriptedServer]]]:
    handler = type("Handler", (_ScriptedServer,), {"answers": [], "requests": []})
    with http_server(handler) as url:
        yield f"{url}/v1", handler


def _echo_answer(
    prompt_logprobs: list[float | None], generated: list[float] | None = None, prompt_tokens: int | None = None
) -> dict:
    if generated is None:
        generated = [-1.0]
    values = [*prompt_logprobs, *generated]
    usage = {
        "prompt_tokens": prompt_tokens if prompt_tokens is not None else len(prompt_logprobs),
        "completion_tokens": 1,
    }
    return {
        "choices": [
            {
                "text": "x",
                "logprobs": {
                    "token_logprobs": values,
                    "tokens": ["t"] * len(values),
                    "text_offset": list(range(len(values))),
                },
            }
        ],
        "usage": usage,
    }


def test_prompt_logprobs_are_read_and_the_generated_token_dropped(scripted_server) -> None:
    url, handler = scripted_server
    handler.answers += [(200, _echo_answer([None, -1.0, -2.0]))]
    scorer = load_scorer("openai-completions", base_url=url, model=None)
    scorer.verify_alignment = False
    scores = scorer.score_texts(["abc"])[0]
    assert scores.token_logprobs == (-1.0, -2.0) and scores.n_text_tokens == 3
    assert handler.requests[0] | {"prompt": None} == {
        "model": "scripted",
        "prompt": None,
        "max_tokens": 1,
        "echo": True,
        "logprobs": 1,
        "temperature": 0,
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_echo_answer([None, None, -1.0, -2.0], prompt_tokens=4), (-1.0, -2.0)),  # vLLM echoes a BOS: two nulls
        (_echo_answer([None, -2.0], generated=[], prompt_tokens=3), (-2.0,)),  # llama-cpp-python: no BOS, no generated
        (
            {
                "choices": [
                    {"logprobs": {"token_logprobs": [None, -2.0, -9.0], "text_offset": [0, 1, 3]}}
                ],  # llama-cpp-python with a BOS:
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            },
            (-2.0,),
        ),  # the BOS left out, the generated token echoed
        (_echo_answer([None, -1.0, -2.0], generated=[]), (-1.0, -2.0)),  # the generated token left out
        (
            {"choices": [{"logprobs": {"token_logprobs": [None, -1.0, -2.0, -9.0], "text_offset": [0, 1, 2, 3]}}]},
            (-1.0, -2.0),
        ),  # no usage
    ],
)
def test_the_prompt_part_of_the_echo_is_found(scripted_server, answer: dict, expected: tuple[float, ...]) -> None:
    url, handler = scripted_server
    handler.answers += [(200, answer)]
    scorer = load_scorer("openai-completions", base_url=url, model="scripted")
    scorer.verify_alignment = False
    assert scorer.score_texts(["abc"])[0].token_logprobs == expected


def test_a_one_token_text_is_too_short(scripted_server) -> None:
    url, handler = scripted_server
    handler.answers += [(200, _echo_answer([None]))]
    scorer = load_scorer("openai-completions", base_url=url, model="scripted")
    scorer.verify_alignment = False
    with pytest.raises(BackendError, match="too short"):
        scorer.score_texts(["a"])


def test_a_server_that_ignores_echo_is_refused(scripted_server) -> None:
    url, handler = scripted_server
    # what llama.cpp's llama-server sends: the generated token's log-prob only
    handler.answers += [(200, _echo_answer([], prompt_tokens=5))]
    scorer = load_scorer("openai-completions", base_url=url, model="scripted")
    scorer.verify_alignment = False
    with pytest.raises(BackendError, match="no log-probabilities for the prompt.*llama-server does not"):
        scorer.score_texts(["some prompt"])


def test_429_and_5xx_are_retried_then_reported(scripted_server) -> None:
    url, handler = scripted_server
    handler.answers += [(429, {"error": "slow down"}), (503, {"error": "busy"}), (200, _echo_answer([None, -0.5]))]
    scorer = load_scorer("openai-completions", base_url=url, model="scripted")
    scorer.http.backoff_s, scorer.verify_alignment = 0.01, False
    assert scorer.score_texts(["ab"])[0].token_logprobs == (-0.5,)
    handler.answers += [(500, {})] * 3
    scorer.http.max_retries = 2
    with pytest.raises(BackendError, match="gave up after 3 tries \\(HTTP 500\\)"):
        scorer.score_texts(["ab"])
    handler.answers += [(400, {"error": "maximum context length is 8 tokens"})]
    with pytest.raises(BackendError, match="answered 400: .*maximum context length"):
        scorer.score_texts(["ab"])


def test_the_alignment_probe_runs_once_before_the_first_text(scripted_server) -> None:
    url, handler = scripted_server
    probe_tokens = 59  # whatever the count, the check uses the second half
    handler.answers += [(200, _echo_answer([None] + [-6.0] * (probe_tokens - 1)))]  # misaligned: far below zero
    scorer = load_scorer("openai-completions", base_url=url, model="scripted", concurrency=1)  # answers in order
    with pytest.raises(BackendError, match="fail a sanity check \\(mean -6.00 nats"):
        scorer.score_texts(["abc"])
    handler.answers += [
        (200, _echo_answer([None] + [-0.05] * (probe_tokens - 1))),
        (200, _echo_answer([None, -1.0])),
        (200, _echo_answer([None, -2.0])),
    ]
    assert [s.token_logprobs for s in scorer.score_texts(["ab", "cd"])] == [(-1.0,), (-2.0,)]
    assert handler.requests[-3]["prompt"].startswith("1, 2, 3") and not scorer.verify_alignment


def test_an_unknown_model_names_those_served(scripted_server) -> None:
    url, _ = scripted_server
    with pytest.raises(BackendError, match="does not serve 'gpt-9'; it serves: scripted"):
        load_scorer("openai-completions", base_url=url, model="gpt-9")
