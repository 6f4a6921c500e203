"""The item explorer: ``brainbench explore`` over the paper's imported runs and runs with token evidence, and the
page itself in a real headless Chromium."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from brainbench.data import load_dataset
from brainbench.runs import load_run, run_benchmark
from brainbench.scoring import TokenScores
from tests.commands import invoke
from tests.fakes import FakeScorer
from tests.report.test_report import CHROMIUM_ARGS, chromium_path


class WordScorer(FakeScorer):
    """The fake scorer (a word's log-prob is -len/10) with each word's character offsets, as transformers gives."""

    def score_texts(self, texts: Sequence[str]) -> list[TokenScores]:
        return [
            dataclasses.replace(scores, token_offsets=tuple(m.span() for m in re.finditer(r"\S+", text))[1:])
            for text, scores in zip(texts, super().score_texts(texts))
        ]


def payload_of(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    start = text.index('<script id="data" type="application/json">') + len('<script id="data" type="application/json">')
    return json.loads(text[start : text.index("</script>", start)])


@pytest.fixture(scope="module")
def word_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The word scorer on the first 5 brainbench-human items, in its own store."""
    root = tmp_path_factory.mktemp("word-run")
    dataset = load_dataset("brainbench-human", data_dir=data_dir, offline=True)
    run_benchmark(dataset, WordScorer(), root / "run", cases=dataset.cases[:5], store=root / "store.sqlite")
    return root / "run"


def test_explore_the_papers_runs_with_one_that_has_token_evidence(
    data_dir: Path, paper_set_runs: dict[str, Path], word_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "explorer.html"
    runs = [str(path) for path in paper_set_runs.values()]
    result = invoke("explore", *runs, str(word_run), "--out", str(out), "--data-dir", str(data_dir), "--allow-partial")
    assert result.returncode == 0, result.stderr
    assert "200 items, 17 run(s), 1 with token evidence" in result.stdout
    payload = payload_of(out)
    assert len(payload["items"]) == 200 and payload["experts"] and payload["rules"] == ["bytes", "self-certainty"]
    names = [run["name"] for run in payload["runs"]]
    word = names.index("fake-scorer")
    assert [run["tokens"] for run in payload["runs"]] == [name == "fake-scorer" for name in names]
    assert payload["runs"][0]["note"] == "imported from published perplexities: no per-token scores"
    assert payload["runs"][names.index("mistralai--Mistral-7B-v0.1")]["short"] == "Mistral-7B-v0.1"
    assert sorted(payload["tok"][str(word)]) == ["0", "1", "2", "3", "4"]
    # each item: its runs' decisions, the experts on it as the study's trials give them
    first = payload["items"][0]
    mistral = first["r"][names.index("mistralai--Mistral-7B-v0.1")]
    records = {record["item_id"]: record for record in load_run(paper_set_runs["mistralai/Mistral-7B-v0.1"])[1]}
    assert mistral[0] == records[0]["correct"] and mistral[2] == pytest.approx(records[0]["confidence"], rel=1e-5)
    assert first["x"]["n"] > 0 and 0 <= first["x"]["acc"] <= 1
    assert payload["items"][7]["r"][word] is None  # not scored by the 5-item run
    # the token evidence adds up to the record's NLL difference, and the decision's margin to its PPLs
    word_records = {record["item_id"]: record for record in load_run(word_run)[1]}
    for item_id, evidence in payload["tok"][str(word)].items():
        record = word_records[int(item_id)]
        before, at_edits, after, total, margin = evidence["d"]
        assert before + at_edits + after == pytest.approx(total, abs=1e-4)
        assert total == pytest.approx(record["nll_altered"] - record["nll_original"], rel=1e-5)
        assert margin == pytest.approx(math.log(record["ppl_altered"] / record["ppl_original"]), rel=1e-5)
    html = out.read_text(encoding="utf-8")
    assert "</script>" not in html[html.index('type="application/json">') : html.index("</script>") - 1]


def test_explore_refuses_runs_of_two_datasets(word_run: Path, tmp_path: Path, data_dir: Path) -> None:
    cases = tmp_path / "cases.csv"
    rows = "".join(f'd{i},Systems/Circuits,"Rates [[rose, fell sharply]] in area {i}."\n' for i in range(3))
    cases.write_text("doi,journal_section,combined_abstract\n" + rows, encoding="utf-8")
    run_benchmark(load_dataset(cases), WordScorer(), tmp_path / "other", store=tmp_path / "s.sqlite")
    result = invoke("explore", str(word_run), str(tmp_path / "other"), "--out", str(tmp_path / "x.html"))
    assert result.returncode == 1 and "give the runs of one dataset at a time" in result.stderr


def _spans(payload: dict, key: int) -> list[tuple[int, int]]:
    import base64

    import numpy as np

    values = np.frombuffer(base64.b64decode(payload["tokenisations"][key]), dtype="<u2").tolist()
    return list(zip(values[::2], values[1::2]))


@pytest.fixture(scope="module")
def embedded_explorer(data_dir: Path, paper_set_runs: dict[str, Path], embedded_run: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explorer") / "explorer.html"
    runs = [str(path) for path in paper_set_runs.values()]
    result = invoke("explore", str(embedded_run), *runs, "--out", str(out), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow  # the embedded model's run
def test_the_embedded_models_tokens_tile_each_abstract(embedded_explorer: Path, embedded_run: Path) -> None:
    """Offsets kept at scoring time put every scored token on its characters: the SmolLM2 tokens of each version
    follow each other without a gap or overlap from the abstract's first character to its last."""
    payload = payload_of(embedded_explorer)
    assert payload["runs"][0]["tokens"] and sorted(map(int, payload["tok"]["0"])) == list(range(12))
    records = {record["item_id"]: record for record in load_run(embedded_run)[1]}
    for item_id, evidence in payload["tok"]["0"].items():
        item = next(item for item in payload["items"] if item["id"] == int(item_id))
        for version, key in enumerate(evidence["k"]):
            spans = _spans(payload, key)
            assert spans[0][0] == 0 and spans[-1][1] == len(item["texts"][version])
            assert all(end == start for (_, end), (start, _) in itertools.pairwise(spans))
        assert evidence["d"][3] == pytest.approx(
            records[int(item_id)]["nll_altered"] - records[int(item_id)]["nll_original"], rel=1e-5, abs=1e-6
        )


@pytest.mark.slow  # a browser
def test_the_explorer_in_chromium(embedded_explorer: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    payload = payload_of(embedded_explorer)
    every_wrong = sum(item["s"]["k"] == 0 for item in payload["items"])
    flips = sum(item["s"]["flips"] > 0 for item in payload["items"])
    with_tokens = next(item for item in payload["items"] if str(item["id"]) in payload["tok"]["0"])
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(embedded_explorer.as_uri())
            expect(page.locator("#count")).to_have_text("200 of 200 items")
            expect(page.locator("#items tbody tr")).to_have_count(200)
            page.screenshot(path=str(tmp_path / "list.png"))
            # the lists that answer questions
            page.select_option("#question", "wrong")
            expect(page.locator("#count")).to_have_text(f"{every_wrong} of 200 items")
            page.select_option("#question", "flips")
            expect(page.locator("#count")).to_have_text(f"{flips} of 200 items")
            assert flips > 0  # the embedded model's run decides by bytes and self-certainty too
            page.select_option("#question", "all")
            page.fill("#search", with_tokens["doi"].rsplit("/", 1)[-1])
            expect(page.locator("#count")).to_have_text("1 of 200 items")
            page.fill("#search", "")
            page.select_option("#subfield", str(with_tokens["sf"]))
            expect(page.locator("#items tbody tr").first).to_contain_text(payload["subfields"][with_tokens["sf"]])
            page.select_option("#subfield", "")
            # keyboard: leave the search box, down twice, open, next, back; / goes back to the search box
            page.keyboard.press("Escape")
            for key in ("j", "j", "Enter"):
                page.keyboard.press(key)
            expect(page.locator("#item-view h2")).to_contain_text("Item 2 ")
            page.keyboard.press("j")
            expect(page.locator("#item-view h2")).to_contain_text("Item 3 ")
            page.keyboard.press("Escape")
            expect(page.locator("#list-view")).to_be_visible()
            expect(page.locator("#items tbody tr.sel")).to_have_attribute("data-id", "3")
            page.keyboard.press("/")
            expect(page.locator("#search")).to_be_focused()
            # an item with token evidence: the split, the chart, both versions token by token; the others say why
            page.goto(embedded_explorer.as_uri() + f"#item-{with_tokens['id']}")
            expect(page.locator("#split")).to_contain_text("at the altered words")
            expect(page.locator("svg.chart")).to_have_count(1)
            expect(page.locator(".strip")).to_have_count(2)
            expect(page.locator(".strip.real .t.u").first).to_be_visible()
            expect(page.locator(".versions mark").first).to_be_visible()
            expect(page.locator("#item-view")).to_contain_text("imported from published perplexities")
            expect(page.locator("#item-view table.runs tbody tr")).to_have_count(17)
            page.screenshot(path=str(tmp_path / "item.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            phone.goto(embedded_explorer.as_uri() + f"#item-{with_tokens['id']}")
            expect(phone.locator("#split")).to_be_visible()
            width = phone.evaluate("document.documentElement.scrollWidth")
            phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        finally:
            browser.close()
    assert not errors
    assert width <= 390  # nothing wider than a phone's screen: wide tables scroll inside their own box
