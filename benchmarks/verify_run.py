"""Recompute every PPL of a run with an independent full-sequence loss and report the largest disagreement.

    python benchmarks/verify_run.py runs/smollm2-135m__brainbench-human

For each item and version: tokenise the templated prompt with default special tokens and take
exp(model(input_ids, labels=input_ids).loss) -- the paper's computation, through transformers'
own loss rather than brainbench's gather/logsumexp. Only runs of the transformers backend.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import brainbench
from brainbench.data import load_dataset
from brainbench.runs import load_run
from brainbench.scoring import apply_template, load_scorer

TOLERANCE = 1e-4  # relative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    run_info, records = load_run(args.run_dir)
    scorer_info = run_info["scorer"]
    model = None if scorer_info.get("embedded_package") else scorer_info["model"]  # None: the embedded model
    scorer = load_scorer(
        model=model,
        gguf_file=None if model is None else scorer_info.get("gguf_file"),
        adapter=scorer_info.get("adapter"),
        dtype=scorer_info["dtype"],
        device=scorer_info["device"],
    )
    dataset = load_dataset(run_info["dataset_path"], texts=run_info["texts"])
    cases = {case.item_id: case for case in dataset.cases}
    worst = 0.0
    started = time.perf_counter()
    for record in records:
        if record["status"] != "ok":
            continue
        case = cases[record["item_id"]]
        for text, key in ((case.original, "ppl_original"), (case.altered, "ppl_altered")):
            prompt = apply_template(run_info["template_text"], text)
            ids = scorer.tokenizer(prompt, return_tensors="pt")["input_ids"].to(scorer.device)
            with torch.inference_mode():
                expected = float(torch.exp(scorer.model(input_ids=ids, labels=ids).loss))
            worst = max(worst, abs(record[key] - expected) / expected)
    result = {
        "run_dir": str(args.run_dir),
        "n_items": len(records),
        "max_relative_difference": worst,
        "tolerance": TOLERANCE,
        "agrees": worst <= TOLERANCE,
        "elapsed_s": time.perf_counter() - started,
        "machine": platform.platform(),
        "brainbench": brainbench.__version__,
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "verify_run.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    raise SystemExit(0 if result["agrees"] else 1)


if __name__ == "__main__":
    main()
