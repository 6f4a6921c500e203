"""How fast does brainbench score BrainBench, next to the paper's loop and lm-evaluation-harness? Same model, items, tokens.

    python benchmarks/bench_scoring.py                      # all 200 brainbench-human items, embedded model, CPU
    python benchmarks/bench_scoring.py --items 20 --dtypes float32,bfloat16
    python benchmarks/bench_scoring.py --device cuda --dtypes float32,bfloat16,float16

Each method runs in a fresh process (so its peak memory is its own): load the model, score 2 items
untimed (warm-up), then time the rest. Methods:
  paper       the authors' loop: one full forward pass per text, model(input_ids, labels=input_ids),
              log_softmax over the whole [seq, vocab] logits, gather (their run_choice.py); fp32, batch 1
  lm-eval     lm-evaluation-harness's Hugging Face backend (HFLM) on the same model object, fp32, batch 1
              (its fastest on CPU). Each text goes through HFLM._loglikelihood_tokens as
              (first token, rest): what loglikelihood_rolling runs per window, without the EOT token
              that loglikelihood_rolling would put in front, so the tokens scored are the paper's.
              Needs the bench extra: pip install -e ".[bench]"
  brainbench  HFScorer.score_options over all items (fast engine: shared prefixes once, length-grouped
              batches of --batch-size pairs, chunked output layer), one row per --dtypes entry
  compiled    the same with torch.compile(decoder, dynamic=True) (--compile; compile time is in warm-up)
Every method's per-item PPL is compared with the paper loop's and the ratios printed; the table
goes to benchmarks/results/bench_scoring_<device>_<items>.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import platform
import resource
import time
from pathlib import Path

WARMUP_ITEMS = 2
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"


def _paper_ppl(model, tokenizer, text: str) -> tuple[float, int]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        prompt = tokenizer(text, return_tensors="pt").to(model.device)
        output = model(input_ids=prompt["input_ids"], labels=prompt["input_ids"])
        shift_logits = output.logits[..., :-1, :].contiguous()
        shift_labels = prompt["input_ids"][..., 1:].contiguous()
        log_probs = F.log_softmax(shift_logits.view(-1, shift_logits.size(-1)), dim=-1)
        true_log_probs = log_probs.gather(dim=1, index=shift_labels.view(-1, 1)).squeeze().float()
        return float(np.exp(-true_log_probs.mean().item())), int(prompt["input_ids"].shape[1])


def _lm_eval_scorer(scorer):
    import math

    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=scorer.model, tokenizer=scorer.tokenizer, batch_size=1)

    def ppl(text: str) -> tuple[float, int]:
        ids = scorer.tokenize(text)
        [(logprob, _)] = lm._loglikelihood_tokens([(None, ids[:1], ids[1:])], disable_tqdm=True)
        return math.exp(-logprob / (len(ids) - 1)), len(ids)

    return ppl


def _run_method(options: dict, queue) -> None:
    import torch

    from brainbench.data import load_dataset
    from brainbench.scoring.base import shared_prefix_length
    from brainbench.scoring.hf import HFScorer

    method, device = options["method"], options["device"]
    torch.manual_seed(0)
    scorer = HFScorer.load(
        options["model"], dtype=options["dtype"], device=device, engine="fast",
        batch_size=options["batch_size"], compile=method == "compiled",
    )
    cases = load_dataset(options["dataset"], data_dir=Path(options["data_dir"])).cases[: options["items"] + WARMUP_ITEMS]
    pairs = [(case.original, case.altered) for case in cases]
    if method in ("paper", "lm-eval"):
        one_text = _lm_eval_scorer(scorer) if method == "lm-eval" else lambda text: _paper_ppl(scorer.model, scorer.tokenizer, text)

        def score(batch):
            return [(one_text(first)[0], one_text(second)[0]) for first, second in batch]
    else:

        def score(batch):
            return [(a.ppl, b.ppl) for a, b in scorer.score_options(batch)]

    def synchronize():
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()

    warmup_started = time.perf_counter()
    score(pairs[:WARMUP_ITEMS])
    synchronize()
    warmup_s = time.perf_counter() - warmup_started
    if scorer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    ppls = score(pairs[WARMUP_ITEMS:])
    synchronize()
    elapsed = time.perf_counter() - started

    text_tokens = tokens_computed = 0
    for first, second in pairs[WARMUP_ITEMS:]:
        ids_a, ids_b = scorer.tokenize(first), scorer.tokenize(second)
        text_tokens += len(ids_a) + len(ids_b)
        shared = shared_prefix_length(ids_a, ids_b) if method in ("brainbench", "compiled") else 0
        tokens_computed += len(ids_a) + len(ids_b) - max(shared, 0)
    n_params = sum(p.numel() for p in scorer.model.parameters())
    queue.put(
        {
            "method": method,
            "dtype": options["dtype"],
            "batch_size": scorer.batch_size if method in ("brainbench", "compiled") else 1,
            "n_items": len(ppls),
            "elapsed_s": elapsed,
            "warmup_s": warmup_s,  # includes compilation for "compiled"
            "items_per_s": len(ppls) / elapsed,
            "text_tokens_per_s": text_tokens / elapsed,
            "tokens_computed": tokens_computed,
            "gflops": 2 * n_params * tokens_computed / elapsed / 1e9,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if scorer.device.type == "cuda" else None,
            "ppl": ppls,
        }
    )


def measure(options: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run_method, args=(options, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def matmul_gflops(dtype_name: str, device: str, trials: int = 5) -> float:
    """The best rate of a large square matrix product over several trials (the machine is noisy)."""
    import torch

    size, repeats = (8192, 20) if device == "cuda" else (2048, 5)
    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    torch.mm(a, b)  # warm-up
    best = 0.0
    for _ in range(trials):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--dataset", default="brainbench-human")
    parser.add_argument("--model", default=None, help="model id, folder or .gguf file (default: the embedded SmolLM2-135M)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtypes", default="float32", help="brainbench dtypes, comma-separated (float32,bfloat16,float16)")
    parser.add_argument("--batch-size", type=int, default=None, help="brainbench pairs per forward pass (default: from free memory; 1 on CPU)")
    parser.add_argument("--methods", default="paper,lm-eval,brainbench", help="which of paper, lm-eval, brainbench to run")
    parser.add_argument("--compile", action="store_true", help="also time brainbench with torch.compile (fp32); its compile time is in warmup_s")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results/bench_scoring_<device>_<items>.json)")
    args = parser.parse_args()

    import torch

    methods = args.methods.split(",")
    if "lm-eval" in methods and importlib.util.find_spec("lm_eval") is None:
        print('lm-evaluation-harness is not installed (pip install -e ".[bench]"); skipping it')
        methods.remove("lm-eval")
    runs = [(method, "float32") for method in ("paper", "lm-eval") if method in methods]
    if "brainbench" in methods:
        runs += [("brainbench", dtype) for dtype in args.dtypes.split(",")]
    if args.compile:
        runs.append(("compiled", "float32"))
    common = {"model": args.model, "dataset": args.dataset, "items": args.items, "device": args.device,
              "batch_size": args.batch_size, "data_dir": str(args.data_dir)}
    results = [measure({**common, "method": method, "dtype": dtype}) for method, dtype in runs]
    peaks = {dtype: matmul_gflops(dtype, args.device) for dtype in {dtype for _, dtype in runs}}
    baseline = results[0]
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    print(f"{args.items} items of {args.dataset}, {args.model or 'embedded SmolLM2-135M'}, {device_name}; speed-up and PPL against {baseline['method']}")
    memory_label = "GPU MB" if args.device == "cuda" else "RSS MB"
    print(f"{'method':<12}{'dtype':<10}{'batch':>6}{'items/s':>9}{'tokens/s':>10}{'GFLOP/s':>10}{'% of mm':>9}{memory_label:>8}{'speed-up':>10}{'max rel dPPL':>14}{'same choices':>14}{'warm-up s':>11}")
    for result in results:
        deviation = max(abs(x - y) / y for pair, ref in zip(result["ppl"], baseline["ppl"]) for x, y in zip(pair, ref))
        same = sum((pair[0] < pair[1]) == (ref[0] < ref[1]) for pair, ref in zip(result["ppl"], baseline["ppl"])) / len(result["ppl"])
        result.update(
            speedup=result["items_per_s"] / baseline["items_per_s"],
            max_relative_ppl_difference=deviation,
            same_choices=same,
            matmul_gflops=peaks[result["dtype"]],
        )
        memory = result["peak_gpu_mb"] if args.device == "cuda" else result["peak_rss_mb"]
        print(
            f"{result['method']:<12}{result['dtype']:<10}{result['batch_size']:>6}{result['items_per_s']:>9.3f}"
            f"{result['text_tokens_per_s']:>10.0f}{result['gflops']:>10.1f}{100 * result['gflops'] / result['matmul_gflops']:>8.1f}%"
            f"{memory:>8.0f}{result['speedup']:>9.2f}x{deviation:>14.2e}{100 * same:>13.1f}%{result['warmup_s']:>11.1f}"
        )
    print("matmul peak GFLOP/s: " + ", ".join(f"{dtype} {value:.0f}" for dtype, value in peaks.items()))
    out = args.out or Path(__file__).parent / "results" / f"bench_scoring_{args.device}_{args.items}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "device": device_name,
                "torch": torch.__version__,
                "dataset": args.dataset,
                "model": args.model,
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
