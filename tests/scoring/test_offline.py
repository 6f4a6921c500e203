"""--offline / BRAINBENCH_OFFLINE=1 when a model loads: no request to any hub, and a model that is not local fails at
once, before anything loads, naming where it looked (the path and the Hugging Face cache folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from brainbench.errors import BackendError
from brainbench.scoring.hf import check_model_source, hub_cache_dir
from tests.commands import invoke, one_clear_line
from tests.servers import http_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _not_there(line: str, model: str = "made-up/model") -> None:
    assert f"--model {model}: offline" in line and f"({Path(model).absolute()})" in line, line
    assert f"nor in the Hugging Face cache ({hub_cache_dir()})" in line, line


def test_run_predict_and_sweep_fail_at_once_on_a_model_that_is_not_local(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "s.sqlite")
    _not_there(one_clear_line(invoke("run", "--model", "made-up/model", "--offline", "--store", store)))
    study = str(EXAMPLES / "planned-study.md")
    _not_there(one_clear_line(invoke("predict", study, "--model", "made-up/model", "--offline", "--store", store)))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"out: {tmp_path / 'runs'}\nlimit: 1\nmodels: [{{model: made-up/model}}]\n", encoding="utf-8")
    monkeypatch.setenv("BRAINBENCH_OFFLINE", "1")  # the variable, as --offline
    swept = invoke("sweep", str(sweep), "--store", store, "--data-dir", str(data_dir), "--json")
    assert swept.returncode == 1 and "Traceback" not in swept.stderr, swept.stderr
    [row] = json.loads(swept.stdout)
    _not_there(row["error"])
    assert not (tmp_path / "runs").exists()


def test_local_folders_must_hold_a_model_and_cached_hub_ids_pass(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendError, match="a folder without config.json, so not a transformers model folder"):
        check_model_source({"model": str(empty)})
    with pytest.raises(BackendError, match="--adapter .*a folder without adapter_config.json"):
        check_model_source({"model": None, "adapter": str(empty)}, offline=True)
    with pytest.raises(BackendError, match="no such GGUF file"):
        check_model_source({"model": str(tmp_path / "missing.gguf")})
    check_model_source({"model": "made-up/model"})  # online, a hub id is the hub's to find
    # a model in the Hugging Face cache, laid out as the hub libraries keep it
    cached = hub_cache_dir() / "models--brainbench-tests--cached"
    (cached / "snapshots" / "abc").mkdir(parents=True, exist_ok=True)
    (cached / "snapshots" / "abc" / "config.json").write_text("{}", encoding="utf-8")
    (cached / "refs").mkdir(exist_ok=True)
    (cached / "refs" / "main").write_text("abc", encoding="utf-8")
    check_model_source({"model": "brainbench-tests/cached"}, offline=True)
    with pytest.raises(BackendError, match="nor in the Hugging Face cache"):
        check_model_source({"model": "brainbench-tests/cached", "revision": "v2"}, offline=True)


@pytest.mark.slow  # a real process: the hub libraries read their switches when imported
def test_offline_makes_no_request_to_the_hub(tmp_path: Path) -> None:
    """Only this test runs without the suite's HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, against a hub endpoint of its
    own that counts requests: --offline alone must keep a missing model from reaching it (it made 5 requests and
    failed after 50 s with "check your internet connection")."""
    requests: list[str] = []

    class Hub(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            requests.append(self.path)
            self.send_response(500)
            self.end_headers()

        do_GET = do_HEAD

        def log_message(self, *args: object) -> None:
            pass

    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    (tmp_path / "hf").mkdir()
    with http_server(Hub) as endpoint:
        env |= {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": endpoint}
        result = subprocess.run(
            [sys.executable, "-m", "brainbench", "run", "--model", "made-up/model", "--offline"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,
        )
    line = one_clear_line(result)
    assert requests == []
    assert f"nor in the Hugging Face cache ({tmp_path / 'hf' / 'hub'})" in line, line
