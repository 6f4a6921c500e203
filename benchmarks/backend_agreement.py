"""Do the three backends agree, and how fast is each? The embedded model, the same items and texts.

    python benchmarks/backend_agreement.py               # all 200 brainbench-human items
    python benchmarks/backend_agreement.py --items 20

Scores every item (original and altered abstract, no template) with
  transformers            the embedded Q4_1 GGUF dequantized to float32 (the default backend)
  llama-cpp               the same GGUF in llama.cpp, with its quantized kernels
  transformers-f32 /      both backends on a float32 copy of the GGUF (dequantize_gguf): the same
  llama-cpp-f32           model with quantization out of the comparison
  openai-completions      through a real llama_cpp.server on 127.0.0.1 with the embedded GGUF
                          (the first --server-items items only: that server is slow)
and reports, for each against transformers (and llama-cpp-f32 against transformers-f32): the
largest and median relative per-item PPL difference, how many choices agree, and items/s.
llama-cpp-python's server misaligns echoed tokens and log-probabilities for models without a BOS
token (the embedded one), so brainbench's alignment probe refuses it; its numbers are measured with
the probe switched off, to show throughput and how far off it is, never to score a benchmark.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from brainbench.data import load_dataset
from brainbench.errors import BackendError
from brainbench.scoring import load_scorer
from brainbench.scoring.hf import embedded_model_file
from brainbench.scoring.llamacpp import dequantize_gguf

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"


def _timed_ppls(scorer, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, float]:
    scorer.score_options(pairs[:1])  # warm-up
    start = time.perf_counter()
    ppls = np.array([[s.ppl for s in pair] for pair in scorer.score_options(pairs)])
    return ppls, len(pairs) / (time.perf_counter() - start)


def _start_server(model: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--logits_all",
        "true",
        "--n_ctx",
        "2048",
    ]
    server = subprocess.Popen(command, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            httpx.get(f"{url}/models").raise_for_status()
            return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"llama_cpp.server did not start: {log_path.read_text()[-2000:]}")


def compare(ppls: np.ndarray, reference: np.ndarray) -> dict[str, float | int]:
    relative = np.abs(ppls / reference - 1).ravel()
    choices = ppls[:, 0] < ppls[:, 1]
    return {
        "max_rel_ppl_diff": float(relative.max()),
        "median_rel_ppl_diff": float(np.median(relative)),
        "same_choices": int((choices == (reference[:, 0] < reference[:, 1])).sum()),
        "accuracy": float(choices.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument(
        "--server-items", type=int, default=10, help="the server takes ~30 s an item: it sorts the vocabulary per token"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backend_agreement.json")
    args = parser.parse_args()

    cases = load_dataset("brainbench-human", data_dir=args.data_dir, offline=True).cases[: args.items]
    pairs = [(case.original, case.altered) for case in cases]
    quantized = embedded_model_file()
    rows: dict[str, dict] = {}
    ppls: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as scratch:
        float32 = dequantize_gguf(quantized, Path(scratch) / "smollm2-f32.gguf")
        backends = {
            "transformers": ("transformers", {"model": str(quantized)}),
            "llama-cpp": ("llama-cpp", {"model": str(quantized)}),
            "transformers-f32": ("transformers", {"model": str(float32)}),
            "llama-cpp-f32": ("llama-cpp", {"model": str(float32)}),
        }
        for name, (backend, options) in backends.items():
            print(f"{name} ...", flush=True)
            ppls[name], rate = _timed_ppls(load_scorer(backend, **options), pairs)
            rows[name] = {"items_per_s": rate}

        server, url = _start_server(quantized, Path(scratch) / "server.log")
        try:
            served = load_scorer("openai-completions", base_url=url, model="smollm2", concurrency=2)
            try:
                served.check_alignment()
                probe = "passed"
            except BackendError as error:
                probe = f"refused: {str(error)[:120]}"
            served.verify_alignment = False
            print("openai-completions (probe off) ...", flush=True)
            ppls["openai-completions"], rate = _timed_ppls(served, pairs[: args.server_items])
            rows["openai-completions"] = {"items_per_s": rate, "items": args.server_items, "alignment_probe": probe}
        finally:
            server.terminate()
            server.wait(timeout=30)

    for name in ("llama-cpp", "openai-completions", "transformers-f32"):
        rows[name] |= {"against": "transformers", **compare(ppls[name], ppls["transformers"][: len(ppls[name])])}
    rows["llama-cpp-f32"] |= {"against": "transformers-f32", **compare(ppls["llama-cpp-f32"], ppls["transformers-f32"])}
    rows["transformers"]["accuracy"] = compare(ppls["transformers"], ppls["transformers"])["accuracy"]

    print(f"\n{len(pairs)} items, {platform.processor() or platform.machine()}")
    print(
        f"{'backend':<20}{'items/s':>9}{'vs':>18}{'max rel':>10}{'median rel':>12}{'same choices':>14}{'accuracy':>10}"
    )
    for name, row in rows.items():
        versus = (
            (
                f"{row['against']:>18}{row['max_rel_ppl_diff']:>10.2e}{row['median_rel_ppl_diff']:>12.2e}"
                f"{row['same_choices']:>10}/{len(ppls[name]):<3}"
            )
            if "against" in row
            else " " * 54
        )
        print(f"{name:<20}{row['items_per_s']:>9.3f}{versus}{row['accuracy']:>10.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"items": len(pairs), "machine": platform.machine(), "backends": rows}, indent=2) + "\n"
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
