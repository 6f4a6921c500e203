"""Is the fast engine exact on an accelerator, whatever the batch size, and how close are half precisions?

    python benchmarks/check_device.py --device cuda
    python benchmarks/check_device.py --device cuda --reference runs/smollm2-135m__brainbench-human/results.jsonl

Scores the same items on one device with: the simple engine (one full forward per text, batch 1),
the fast engine with 1 pair per pass and with the automatic batch size, in float32; then the fast
engine in bfloat16 and float16. Prints, against the simple float32 engine, the largest relative
PPL difference and the share of identical choices (lower PPL of the two versions), and against
a reference run (e.g. the CPU float32 run of `make main`) when one is given. Writes
benchmarks/results/check_device_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"


def compare(ppls: list[tuple[float, float]], reference: list[tuple[float, float]]) -> dict[str, float]:
    deviation = max(abs(x - y) / y for pair, ref in zip(ppls, reference) for x, y in zip(pair, ref))
    same = sum((a < b) == (x < y) for (a, b), (x, y) in zip(ppls, reference)) / len(ppls)
    return {"max_relative_ppl_difference": deviation, "same_choices": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--model", default=None, help="model id, folder or .gguf file (default: the embedded SmolLM2-135M)"
    )
    parser.add_argument("--dataset", default="brainbench-human")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--reference", type=Path, default=None, help="results.jsonl of a float32 run of the same items")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from brainbench.data import load_dataset
    from brainbench.scoring.hf import HFScorer, auto_batch_size

    cases = load_dataset(args.dataset, data_dir=args.data_dir).cases[: args.items]
    pairs = [(case.original, case.altered) for case in cases]
    rows: dict[str, dict] = {}

    def run(label: str, scorer: HFScorer, engine: str, batch_size: int | None) -> list[tuple[float, float]]:
        scorer.engine = engine
        scorer.batch_size = batch_size or auto_batch_size(scorer.model, scorer.device)
        scorer.score_options(pairs[:2])  # warm-up
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        ppls = [(a.ppl, b.ppl) for a, b in scorer.score_options(pairs)]
        elapsed = time.perf_counter() - started
        rows[label] = {
            "engine": engine,
            "batch_size": scorer.batch_size,
            "dtype": scorer.info["dtype"],
            "items_per_s": len(pairs) / elapsed,
        }
        return ppls

    fp32 = HFScorer.load(args.model, dtype="float32", device=args.device)
    results = {
        "simple fp32 b1": run("simple fp32 b1", fp32, "simple", 1),
        "fast fp32 b1": run("fast fp32 b1", fp32, "fast", 1),
        "fast fp32 auto": run("fast fp32 auto", fp32, "fast", None),
    }
    del fp32
    for dtype in ("bfloat16", "float16"):
        scorer = HFScorer.load(args.model, dtype=dtype, device=args.device)
        results[f"fast {dtype} auto"] = run(f"fast {dtype} auto", scorer, "fast", None)
        del scorer
    reference = None
    if args.reference is not None:
        records = {}
        for line in args.reference.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records[record["item_id"]] = (record["ppl_original"], record["ppl_altered"])
        reference = [records[case.item_id] for case in cases]

    print(
        f"{len(pairs)} items of {args.dataset} on "
        f"{torch.cuda.get_device_name() if args.device.startswith('cuda') else args.device}"
    )
    print(
        f"{'scorer':<20}{'batch':>6}{'items/s':>9}{'max rel dPPL':>14}{'same choices':>14}"
        + (f"{'vs reference':>14}{'same':>8}" if reference else "")
    )
    for label, ppls in results.items():
        rows[label].update(compare(ppls, results["simple fp32 b1"]))
        row = rows[label]
        line = (
            f"{label:<20}{row['batch_size']:>6}{row['items_per_s']:>9.1f}"
            f"{row['max_relative_ppl_difference']:>14.2e}{100 * row['same_choices']:>13.1f}%"
        )
        if reference:
            row["vs_reference"] = compare(ppls, reference)
            vs = row["vs_reference"]
            line += f"{vs['max_relative_ppl_difference']:>14.2e}{100 * vs['same_choices']:>7.1f}%"
        print(line)
    out = args.out or Path(__file__).parent / "results" / f"check_device_{args.device.split(':')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"device": args.device, "torch": torch.__version__, "items": len(pairs), "rows": rows}, indent=2)
        + "\n"
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
