"""How fast does brainbench score BrainBench, next to the paper's loop and lm-evaluation-harness? Same model, prompts,
tokens.

    python benchmarks/bench_scoring.py                      # all 200 brainbench-human items, embedded model, CPU
    python benchmarks/bench_scoring.py --items 20 --dtypes float32,bfloat16
    python benchmarks/bench_scoring.py --compile            # also compiled: a cold and a warm compile cache
    python benchmarks/bench_scoring.py --device cuda --dtypes float32,bfloat16,float16

Every method scores what ``brainbench run`` scores: each abstract in the paper's prompt template for
the model (the embedded model gets the paper's generic ``gpt2`` one), tokenised by the model's tokenizer.

Each method runs in its own process (its peak memory is its own): it loads the model and scores 2
items untimed (warm-up, compilation included). The processes start one after another; then they are
timed in rounds: in each round every method scores the same slice of items, one method at a time, in
an order that rotates, so that background load on a shared machine falls on every method alike.
Methods:
  paper       the authors' loop: one full forward pass per text, model(input_ids, labels=input_ids),
              log_softmax over the whole [seq, vocab] logits, gather (their run_choice.py); fp32, batch 1
  lm-eval     lm-evaluation-harness's Hugging Face backend (HFLM) on the same model object, fp32, batch 1
              (its fastest on CPU). Each text goes through HFLM._loglikelihood_tokens as
              (first token, rest): what loglikelihood_rolling runs per window, without the EOT token
              that loglikelihood_rolling would put in front, so the tokens scored are the paper's.
              Needs the bench extra: pip install -e ".[bench]"
  brainbench  HFScorer.score_options as a run calls it: cases sorted by length, ``cases_per_call`` at a
              time (on the CPU shared among one worker thread per core); one row per --dtypes entry
  compiled    the same with the decoder compiled (--compile), once with an empty compile cache
              ("compiled, cold cache") and once with the cache that run filled; warm-up shows the cost
Every method's per-item PPL is compared with the paper loop's and the ratios printed; the table goes
to benchmarks/results/bench_scoring_<device>_<items>.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import queue
import resource
import tempfile
import time
from pathlib import Path

WARMUP_ITEMS = 2
ROUND_ITEMS = 20
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"


def _paper_ppl(model, tokenizer, text: str) -> float:
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
        return float(np.exp(-true_log_probs.mean().item()))


def _lm_eval_ppl(scorer):
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=scorer.model, tokenizer=scorer.tokenizer, batch_size=1)

    def ppl(text: str) -> float:
        ids = scorer.tokenize(text)
        [(logprob, _)] = lm._loglikelihood_tokens([(None, ids[:1], ids[1:])], disable_tqdm=True)
        return math.exp(-logprob / (len(ids) - 1))

    return ppl


def _pair_scorer(method: str, scorer):
    """A function from a list of (original, altered) prompts to their PPL pairs, as ``method`` scores them."""
    if method in ("paper", "lm-eval"):
        one_text = (
            _lm_eval_ppl(scorer)
            if method == "lm-eval"
            else lambda text: _paper_ppl(scorer.model, scorer.tokenizer, text)
        )
        return lambda pairs: [(one_text(first), one_text(second)) for first, second in pairs]

    def score(pairs):  # as brainbench run calls it: sorted by length, cases_per_call at a time
        order = sorted(range(len(pairs)), key=lambda index: max(map(len, pairs[index])))
        ppls = [None] * len(pairs)
        for start in range(0, len(order), scorer.cases_per_call):
            chunk = order[start : start + scorer.cases_per_call]
            for index, scores in zip(chunk, scorer.score_options([pairs[index] for index in chunk])):
                ppls[index] = tuple(score.ppl for score in scores)
        return ppls

    return score


def _serve_method(options: dict, commands, results) -> None:
    """One method's process: load, warm up, then score the item slices it is sent until told to stop."""
    if options.get("compile_cache"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = options["compile_cache"]
    import torch

    from brainbench.data import load_dataset
    from brainbench.scoring import resolve_template
    from brainbench.scoring.base import shared_prefix_length
    from brainbench.scoring.hf import HFScorer

    method, device = options["method"], options["device"]
    torch.manual_seed(0)
    started = time.perf_counter()
    scorer = HFScorer.load(
        options["model"],
        dtype=options["dtype"],
        device=device,
        engine="fast",
        batch_size=options["batch_size"],
        compile=method.startswith("compiled"),
    )
    template = resolve_template(None, None, options["model"], data_dir=Path(options["data_dir"]))
    cases = load_dataset(options["dataset"], data_dir=Path(options["data_dir"])).cases[: options["items"]]
    pairs = [(template.apply(case.original), template.apply(case.altered)) for case in cases]
    load_s = time.perf_counter() - started
    score = _pair_scorer(method, scorer)

    def synchronize():
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()

    started = time.perf_counter()
    score(pairs[:WARMUP_ITEMS])
    synchronize()
    results.put({"warmup_s": time.perf_counter() - started, "load_s": load_s, "template": template.name})
    if scorer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    ppls, elapsed = {}, 0.0
    while (indices := commands.get()) is not None:
        started = time.perf_counter()
        for index, ppl in zip(indices, score([pairs[index] for index in indices])):
            ppls[index] = ppl
        synchronize()
        round_s = time.perf_counter() - started
        elapsed += round_s
        results.put(round_s)

    text_tokens = tokens_computed = 0
    for index in ppls:
        ids_a, ids_b = (scorer.tokenize(text) for text in pairs[index])
        text_tokens += len(ids_a) + len(ids_b)
        shared = shared_prefix_length(ids_a, ids_b) if method not in ("paper", "lm-eval") else 0
        tokens_computed += len(ids_a) + len(ids_b) - max(shared, 0)
    n_params = sum(p.numel() for p in scorer.model.parameters())
    results.put(
        {
            "batch_size": scorer.batch_size if method not in ("paper", "lm-eval") else 1,
            "workers": scorer.workers if method not in ("paper", "lm-eval") else 1,
            "n_items": len(ppls),
            "elapsed_s": elapsed,
            "items_per_s": len(ppls) / elapsed,
            "text_tokens_per_s": text_tokens / elapsed,
            "tokens_computed": tokens_computed,
            "gflops": 2 * n_params * tokens_computed / elapsed / 1e9,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if scorer.device.type == "cuda" else None,
            "ppl": [ppls[index] for index in sorted(ppls)],
        }
    )


class MethodProcess:
    """A method's process and its two queues: item slices in, timings and results out."""

    def __init__(self, context, options: dict) -> None:
        self.label = {"compiled-cold": "compiled, cold cache"}.get(options["method"], options["method"])
        self.options = options
        self.commands, self.results = context.Queue(), context.Queue()
        self.process = context.Process(target=_serve_method, args=(options, self.commands, self.results))
        self.process.start()
        self.ready = self._get()  # warm-up done before the next method starts: no overlap, a cold cache stays cold

    def _get(self):
        while True:
            try:
                return self.results.get(timeout=10)
            except queue.Empty:  # still working, unless the process died
                if not self.process.is_alive():
                    raise RuntimeError(
                        f"{self.label} ({self.options['dtype']}) stopped with exit code {self.process.exitcode}"
                    ) from None

    def time_round(self, indices: list[int]) -> float:
        self.commands.put(indices)
        return self._get()

    def finish(self) -> dict:
        self.commands.put(None)
        result = self._get()
        self.process.join()
        return {"method": self.label, "dtype": self.options["dtype"], **self.ready, **result}


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
    parser.add_argument(
        "--model", default=None, help="model id, folder or .gguf file (default: the embedded SmolLM2-135M)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--dtypes", default="float32", help="brainbench dtypes, comma-separated (float32,bfloat16,float16)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="brainbench pairs per forward pass (default: from free memory; 1 on CPU)",
    )
    parser.add_argument(
        "--methods", default="paper,lm-eval,brainbench", help="which of paper, lm-eval, brainbench to run"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time brainbench fp32 compiled, from a cold and a warm compile cache",
    )
    parser.add_argument(
        "--round-items",
        type=int,
        default=ROUND_ITEMS,
        help="items per round (every method scores each round's items in turn)",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default benchmarks/results/bench_scoring_<device>_<items>.json)",
    )
    args = parser.parse_args()

    import torch

    methods = args.methods.split(",")
    if "lm-eval" in methods and importlib.util.find_spec("lm_eval") is None:
        print('lm-evaluation-harness is not installed (pip install -e ".[bench]"); skipping it')
        methods.remove("lm-eval")
    runs = [(method, "float32") for method in ("paper", "lm-eval") if method in methods]
    if "brainbench" in methods:
        runs += [("brainbench", dtype) for dtype in args.dtypes.split(",")]
    compile_cache = tempfile.mkdtemp(prefix="bench-compile-cache-")  # empty: the first compiled process pays in full
    if args.compile:
        runs += [("compiled-cold", "float32"), ("compiled", "float32")]
    common = {
        "model": args.model,
        "dataset": args.dataset,
        "items": args.items,
        "device": args.device,
        "batch_size": args.batch_size,
        "data_dir": str(args.data_dir),
        "compile_cache": compile_cache,
    }
    load_before = os.getloadavg()
    context = multiprocessing.get_context("spawn")
    processes = [MethodProcess(context, {**common, "method": method, "dtype": dtype}) for method, dtype in runs]
    items = list(range(args.items))  # the warm-up's items too: nothing is cached between calls
    rounds = [items[start : start + args.round_items] for start in range(0, len(items), args.round_items)]
    for number, indices in enumerate(rounds):
        turn = processes[number % len(processes) :] + processes[: number % len(processes)]
        seconds = {process.label + " " + process.options["dtype"]: process.time_round(indices) for process in turn}
        print(
            f"round {number + 1}/{len(rounds)}: "
            + ", ".join(f"{name} {value:.1f}s" for name, value in seconds.items()),
            flush=True,
        )
    results = [process.finish() for process in processes]
    load_after = os.getloadavg()
    peaks = {dtype: matmul_gflops(dtype, args.device) for dtype in {dtype for _, dtype in runs}}
    baseline = results[0]
    device_name = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    print(
        f"{args.items} items of {args.dataset}, {args.model or 'embedded SmolLM2-135M'}, template "
        f"{baseline['template']}, {device_name}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; speed-up and PPL against "
        f"{baseline['method']}"
    )
    memory_label = "GPU MB" if args.device == "cuda" else "RSS MB"
    print(
        f"{'method':<22}{'dtype':<10}{'batch':>6}{'items/s':>9}{'tokens/s':>10}{'GFLOP/s':>10}{'% of mm':>9}"
        f"{memory_label:>8}"
        f"{'speed-up':>10}{'max rel dPPL':>14}{'same choices':>14}{'warm-up s':>11}"
    )
    for result in results:
        deviation = max(abs(x - y) / y for pair, ref in zip(result["ppl"], baseline["ppl"]) for x, y in zip(pair, ref))
        same = sum((pair[0] < pair[1]) == (ref[0] < ref[1]) for pair, ref in zip(result["ppl"], baseline["ppl"])) / len(
            result["ppl"]
        )
        result.update(
            speedup=result["items_per_s"] / baseline["items_per_s"],
            max_relative_ppl_difference=deviation,
            same_choices=same,
            matmul_gflops=peaks[result["dtype"]],
        )
        memory = result["peak_gpu_mb"] if args.device == "cuda" else result["peak_rss_mb"]
        print(
            f"{result['method']:<22}{result['dtype']:<10}{result['batch_size']:>6}{result['items_per_s']:>9.3f}"
            f"{result['text_tokens_per_s']:>10.0f}{result['gflops']:>10.1f}"
            f"{100 * result['gflops'] / result['matmul_gflops']:>8.1f}%"
            f"{memory:>8.0f}{result['speedup']:>9.2f}x{deviation:>14.2e}{100 * same:>13.1f}%{result['warmup_s']:>11.1f}"
        )
    print("matmul peak GFLOP/s: " + ", ".join(f"{dtype} {value:.0f}" for dtype, value in peaks.items()))
    by_name = {(result["method"], result["dtype"]): result for result in results}
    for result in results:
        if result["method"] not in ("paper", "lm-eval"):
            against = [
                f"{result['items_per_s'] / by_name[(other, 'float32')]['items_per_s']:.2f}x {other}"
                for other in ("paper", "lm-eval")
                if (other, "float32") in by_name
            ]
            print(f"{result['method']} {result['dtype']}: " + ", ".join(against))
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
                "template": baseline["template"],
                "items": args.items,
                "rounds": len(rounds),
                "load_average_before_after": [load_before[0], load_after[0]],
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
