"""How large is the item explorer, and how fast does it open in Chromium, for 200 items x up to 20 runs?

    python benchmarks/bench_explorer.py --run runs/smollm2__brainbench-human    # a 200-item transformers run
    python benchmarks/bench_explorer.py --run RUN --runs 20 --repeats 5

The run must have kept per-token offsets (a transformers run scored by this brainbench): its token evidence is what
makes the page large. Pages measured, all over brainbench-human's 200 items:
  released      the paper's 5 released runs (imported arrays: choices and confidences only) and ``--run``
  20 x shared   ``--runs`` runs, every one with token evidence (copies of ``--run`` under other names): runs of
                models that share a tokenizer (the Llama-2 family) share their tokenisations in the page
  20 x distinct the same, but every run with a tokenisation of its own (the worst case: 20 tokenizers)
For each: the file's size, the time to build it in Python, and in headless Chromium (file://) the time from
navigation to the list drawn (the page's own ``performance.now()`` when ready) and to an item drawn with its
token evidence, median of ``--repeats`` fresh pages after one untimed warm-up. Results go to
benchmarks/results/bench_explorer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "brainbench"
RELEASED = (
    "mistralai--Mistral-7B-v0.1",
    "meta-llama--Llama-2-7b-hf",
    "gpt2",
    "TinyLlama--TinyLlama_v1.1",
    "lora_r256_a512_finetune_mistral_7b_v01",
)
REPEATS = 5


def build_pages(run_dir: Path, n_runs: int, out: Path) -> list[dict]:
    from brainbench.analysis import trials_of
    from brainbench.data import load_dataset, load_human_study
    from brainbench.report.explore import ExplorerRun, explorer_payload, load_token_evidence, render_explorer
    from brainbench.runs import load_run
    from brainbench.runs.published import import_published

    dataset = load_dataset("brainbench-human", data_dir=DATA_DIR, offline=True)
    trials = trials_of(load_human_study(data_dir=DATA_DIR, offline=True), "human")
    info, records = load_run(run_dir)
    evidence, note = load_token_evidence(info, dataset)
    if not evidence:
        raise SystemExit(f"{run_dir}: no token evidence ({note})")
    released = []
    for name in RELEASED:
        target = out / "released" / name
        import_published(DATA_DIR / "published_results" / name / "human_abstracts", dataset, name, target)
        released_info, released_records = load_run(target)
        released.append(ExplorerRun(name, released_info, released_records, {}, "imported arrays"))
    pages = []
    for label, runs, distinct in (
        ("released 5 + 1 with tokens", [*released, ExplorerRun(info["model"], info, records, evidence)], False),
        (
            f"{n_runs} x shared tokenisation",
            [ExplorerRun(f"copy-{k}", info, records, evidence) for k in range(n_runs)],
            False,
        ),
        (
            f"{n_runs} x distinct tokenisations",
            [ExplorerRun(f"copy-{k}", info, records, evidence) for k in range(n_runs)],
            True,
        ),
    ):
        started = time.perf_counter()
        payload = explorer_payload(runs, dataset, trials)
        if distinct:  # each run its own copy of every tokenisation, as 20 different tokenizers would need
            shared = payload["tokenisations"]
            payload["tokenisations"] = []
            for items in payload["tok"].values():
                offset = len(payload["tokenisations"])
                for item in items.values():
                    item["k"] = [offset + key for key in item["k"]]
                payload["tokenisations"] += shared
        page = render_explorer(payload)
        build_s = time.perf_counter() - started
        path = out / f"explorer-{len(pages)}.html"
        path.write_text(page, encoding="utf-8")
        pages.append(
            {
                "page": label,
                "items": len(payload["items"]),
                "runs": len(runs),
                "runs_with_tokens": sum(bool(run.evidence) for run in runs),
                "bytes": path.stat().st_size,
                "build_s": round(build_s, 3),
                "path": str(path),
                "item": int(next(iter(next(iter(payload["tok"].values()))))),  # an item with token evidence
            }
        )
    return pages


def time_in_chromium(pages: list[dict], repeats: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
        )
        try:
            for page_info in pages:
                uri = Path(page_info["path"]).as_uri()
                opened, items = [], []
                for attempt in range(repeats + 1):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(uri)
                    page.wait_for_selector("body[data-ready=true]")
                    ready_ms = float(page.evaluate("document.body.dataset.readyMs"))
                    item_ms = page.evaluate(
                        """async (id) => {
                            const started = performance.now();
                            location.hash = `#item-${id}`;
                            while (!document.querySelector('#split')) await new Promise(requestAnimationFrame);
                            return performance.now() - started;
                        }""",
                        page_info["item"],
                    )
                    page.close()
                    if attempt:  # the first is a warm-up
                        opened.append(ready_ms / 1000)
                        items.append(item_ms / 1000)
                page_info["open_s_median"] = round(statistics.median(opened), 3)
                page_info["open_s_max"] = round(max(opened), 3)
                page_info["item_s_median"] = round(statistics.median(items), 3)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a 200-item transformers run of brainbench-human")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_explorer.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pages = build_pages(args.run, args.runs, Path(tmp))
        time_in_chromium(pages, args.repeats)
    for page in pages:
        del page["path"], page["item"]
        print(
            f"{page['page']:32s} {page['items']} items x {page['runs']:2d} runs ({page['runs_with_tokens']:2d} with "
            f"tokens): {page['bytes'] / 1e6:6.2f} MB, built in {page['build_s']:.2f} s, opens in "
            f"{page['open_s_median']:.3f} s (max {page['open_s_max']:.3f}), an item in {page['item_s_median']:.3f} s"
        )
    import brainbench

    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "brainbench": brainbench.__version__,
        "repeats": args.repeats,
        "pages": pages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
