"""How fast does brainbench score BrainBench, next to the paper's own loop? Same model, items, tokens.

    python benchmarks/bench_scoring.py                 # all 200 brainbench-human items, embedded model
    python benchmarks/bench_scoring.py --items 20 --dtypes float32,bfloat16

Each method runs in a fresh process (so peak RSS is its own): load the model, score 2 items untimed
(warm-up), then time the rest. Methods:
  paper       the authors' loop: one full forward pass per text, model(input_ids, labels=input_ids),
              log_softmax over the whole [seq, vocab] logits, gather (their run_choice.py)
  brainbench  HFScorer.score_pair with the fast engine (shared prefix once, chunked output layer)
  compiled    the same with torch.compile(decoder, dynamic=True) (--compile; compile time not in the rate)
Every method's per-item PPL is compared with the paper loop's (fp32) and the ratios printed.
lm-evaluation-harness is not part of this run yet (see the issue's notes).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import time
from pathlib import Path

DATASET = "brainbench-human"
N_ITEMS = 200
WARMUP_ITEMS = 2
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"


def _paper_ppl(model, tokenizer, text: str) -> tuple[float, int]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        prompt = tokenizer(text, return_tensors="pt")
        output = model(input_ids=prompt["input_ids"], labels=prompt["input_ids"])
        shift_logits = output.logits[..., :-1, :].contiguous()
        shift_labels = prompt["input_ids"][..., 1:].contiguous()
        log_probs = F.log_softmax(shift_logits.view(-1, shift_logits.size(-1)), dim=-1)
        true_log_probs = log_probs.gather(dim=1, index=shift_labels.view(-1, 1)).squeeze().float()
        return float(np.exp(-true_log_probs.mean().item())), int(prompt["input_ids"].shape[1])


def _run_method(method: str, dtype: str, n_items: int, data_dir: str, queue) -> None:
    compile_decoder = method == "compiled"
    import torch

    from brainbench.data import load_dataset
    from brainbench.scoring.hf import HFScorer

    torch.manual_seed(0)
    scorer = HFScorer.load(dtype=dtype, device="cpu", engine="fast", compile=compile_decoder)
    cases = load_dataset(DATASET, data_dir=Path(data_dir)).cases[: n_items + WARMUP_ITEMS]
    ppls, tokens_computed, text_tokens = [], 0, 0

    def score(case):
        if method == "paper":
            (a, na), (b, nb) = (_paper_ppl(scorer.model, scorer.tokenizer, t) for t in (case.original, case.altered))
            return (a, b), na + nb, na + nb
        first, second = scorer.score_pair(case.original, case.altered)
        ids_a, ids_b = scorer.tokenize(case.original), scorer.tokenize(case.altered)
        shared = next((i for i, (x, y) in enumerate(zip(ids_a, ids_b)) if x != y), min(len(ids_a), len(ids_b)))
        shared = max(0, min(shared, len(ids_a) - 1, len(ids_b) - 1))
        return (first.ppl, second.ppl), len(ids_a) + len(ids_b) - shared, len(ids_a) + len(ids_b)

    warmup_started = time.perf_counter()
    for case in cases[:WARMUP_ITEMS]:
        score(case)
    warmup_s = time.perf_counter() - warmup_started
    started = time.perf_counter()
    for case in cases[WARMUP_ITEMS:]:
        pair, computed, n_text = score(case)
        ppls.append(pair)
        tokens_computed += computed
        text_tokens += n_text
    elapsed = time.perf_counter() - started
    n_params = sum(p.numel() for p in scorer.model.parameters())
    queue.put(
        {
            "method": method,
            "dtype": dtype,
            "n_items": len(ppls),
            "elapsed_s": elapsed,
            "warmup_s": warmup_s,  # includes compilation for "compiled"
            "items_per_s": len(ppls) / elapsed,
            "text_tokens_per_s": text_tokens / elapsed,
            "tokens_computed": tokens_computed,
            "gflops": 2 * n_params * tokens_computed / elapsed / 1e9,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "ppl": ppls,
        }
    )


def measure(method: str, dtype: str, n_items: int, data_dir: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run_method, args=(method, dtype, n_items, str(data_dir), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def matmul_gflops(dtype_name: str, size: int = 2048, repeats: int = 5) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=N_ITEMS)
    parser.add_argument("--dtypes", default="float32", help="brainbench dtypes, comma-separated (float32,bfloat16)")
    parser.add_argument("--compile", action="store_true", help="also time brainbench with torch.compile (fp32); its compile time is in warmup_s")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()

    import torch

    runs = [("paper", "float32")] + [("brainbench", dtype) for dtype in args.dtypes.split(",")]
    if args.compile:
        runs.append(("compiled", "float32"))
    results = [measure(method, dtype, args.items, args.data_dir) for method, dtype in runs]
    peaks = {dtype: matmul_gflops(dtype) for dtype in {dtype for _, dtype in runs}}
    baseline = results[0]
    print(f"{args.items} items of {DATASET}, embedded model, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{'method':<12}{'dtype':<10}{'items/s':>9}{'tokens/s':>10}{'GFLOP/s':>9}{'% of mm':>9}{'RSS MB':>8}{'speed-up':>10}{'max rel dPPL':>14}{'same choices':>14}{'warm-up s':>11}")
    for result in results:
        deviation = max(
            abs(x - y) / y for pair, ref in zip(result["ppl"], baseline["ppl"]) for x, y in zip(pair, ref)
        )
        same = sum((pair[0] < pair[1]) == (ref[0] < ref[1]) for pair, ref in zip(result["ppl"], baseline["ppl"])) / len(result["ppl"])
        result.update(
            speedup=result["items_per_s"] / baseline["items_per_s"],
            max_relative_ppl_difference=deviation,
            same_choices=same,
            matmul_gflops=peaks[result["dtype"]],
        )
        print(
            f"{result['method']:<12}{result['dtype']:<10}{result['items_per_s']:>9.3f}{result['text_tokens_per_s']:>10.0f}"
            f"{result['gflops']:>9.1f}{100 * result['gflops'] / result['matmul_gflops']:>8.0f}%{result['peak_rss_mb']:>8.0f}"
            f"{result['speedup']:>9.2f}x{deviation:>14.2e}{100 * same:>13.1f}%{result['warmup_s']:>11.1f}"
        )
    print("matmul peak GFLOP/s: " + ", ".join(f"{dtype} {value:.0f}" for dtype, value in peaks.items()))
    out = Path(__file__).parent / "results" / f"bench_scoring_{args.items}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "items": args.items,
                "matmul_gflops": peaks,
                "results": [{k: v for k, v in r.items() if k != "ppl"} for r in results],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
