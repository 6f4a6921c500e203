"""The corpus builder against a local E-utilities server: formats, faults, resuming, exclusion, splits."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brainbench.cli import app
from brainbench.corpus import Journal, collect, corpus_stats, finalize, load_journals, read_corpus
from brainbench.errors import InputError
from brainbench.pubmed import EUtilsClient, EUtilsError
from tests.corpus.eutils_server import TEST_SET_DOI, Faults, ServerState, eutils_server, make_articles

JOURNALS = [Journal("The Journal of Neuroscience", "J Neurosci", "0270-6474"), Journal("Neuron", "Neuron", "0896-6273")]


def _client(url: str) -> EUtilsClient:
    return EUtilsClient(url, requests_per_second=50, backoff_s=0.01, api_key="test-key")


def test_collect_parses_pubmed_and_pmc_and_survives_faults(tmp_path: Path) -> None:
    state = ServerState(make_articles(), Faults(efetch={1: "429", 2: "truncated", 4: "503"}))
    with eutils_server(state) as url:
        client = _client(url)
        held = collect(client, JOURNALS, 2002, 2022, tmp_path, batch_size=4)
    assert held == {
        "abstract": 15,
        "full_text": 4,
    }  # 9 + 6 abstracts from 2002-2022 (not the 1999 one); 4 open-access texts
    abstracts = [json.loads(line) for line in (tmp_path / "raw" / "abstracts.jsonl").read_text().splitlines()]
    first = next(row for row in abstracts if row["pmid"] == "1000")
    assert first == {
        "pmid": "1000",
        "pmcid": "PMC5000",
        "doi": "10.1523/jneurosci.0000-10.2010",
        "journal": "The Journal of neuroscience",
        "year": 2010,
        "section": "abstract",
        "text": "Hippocampal circuit study 0\nBACKGROUND: Place cells encode space in study 0.\nRESULTS: Firing rates "
        "rose by 2 Hz after learning.",
    }
    texts = [json.loads(line) for line in (tmp_path / "raw" / "full_texts.jsonl").read_text().splitlines()]
    body = texts[0]["text"]
    assert body.startswith(
        "Introduction\nMemory needs the hippocampus (Smith, 2001) in case 0.\nResults\nCells fired more."
    )
    assert (
        "Figure caption" not in body and "Cited work" not in body and "Rates rose by 2 Hz." in body
    )  # no figures, tables, references
    assert texts[0]["pmid"] == "1000" and texts[0]["pmcid"] == "PMC5000"
    # every request carried the API key and the tool name; the retried ones came back
    assert all(
        params.get("api_key") == "test-key" and params.get("tool") == "brainbench" for _, _, params in state.requests
    )
    times = [when for when, _, _ in state.requests]
    assert (
        min(b - a for a, b in itertools.pairwise(times)) > 0.01
    )  # the rate limit held: 50/s here, 1 ms apart without it


def test_an_interrupted_collection_resumes_without_refetching(tmp_path: Path) -> None:
    state = ServerState(make_articles(), Faults(efetch={3: "400"}))
    with eutils_server(state) as url:
        with pytest.raises(EUtilsError, match="answered 400"):
            collect(_client(url), JOURNALS, 2002, 2022, tmp_path, batch_size=4)
        before = state.efetch_calls
        held = collect(_client(url), JOURNALS, 2002, 2022, tmp_path, batch_size=4)
    assert held == {"abstract": 15, "full_text": 4}
    # the first run fetched 2 batches of J Neurosci (8 of 9); the second asks only for the rest
    assert state.efetch_calls - before == 1 + 2 + 1  # J Neurosci's last batch, Neuron's 2, PMC's 1
    pmids = [json.loads(line)["pmid"] for line in (tmp_path / "raw" / "abstracts.jsonl").read_text().splitlines()]
    assert len(pmids) == len(set(pmids)) == 15


def test_an_error_inside_a_200_answer_is_reported(tmp_path: Path) -> None:
    with (
        eutils_server(ServerState(make_articles(), Faults(efetch={1: "error"}))) as url,
        pytest.raises(EUtilsError, match="NCBI answered: Unable to obtain query #1"),
    ):
        collect(_client(url), JOURNALS, 2002, 2022, tmp_path)


def test_finalize_dedups_excludes_test_sets_and_splits_by_article(tmp_path: Path) -> None:
    with eutils_server(ServerState(make_articles())) as url:
        collect(_client(url), JOURNALS, 2002, 2022, tmp_path, batch_size=50)
    manifest = finalize(tmp_path, [f"https://doi.org/{TEST_SET_DOI}"], valid_fraction=0.3)
    assert manifest["raw"] == 19 and manifest["duplicates"] == 1 and manifest["excluded_test_set"] == 1
    train, valid = read_corpus(tmp_path, "train"), read_corpus(tmp_path, "valid")
    assert len(train) + len(valid) == 17 and valid and train
    assert all(row["doi"] != TEST_SET_DOI.lower() for row in train + valid)
    split_of = {}
    for split, rows in (("train", train), ("valid", valid)):
        for row in rows:
            assert split_of.setdefault(row["pmid"], split) == split  # an article's abstract and full text stay together
    stats = corpus_stats(tmp_path)
    assert stats["total"]["documents"] == 17 and stats["by_section"].loc["full_text", "documents"] == 4


def test_journal_lists(tmp_path: Path) -> None:
    shipped = load_journals()
    assert any(journal.abbreviation == "J Neurosci" for journal in shipped) and len(shipped) >= 25
    bad = tmp_path / "journals.csv"
    bad.write_text("name,abbreviation,issn\nNeuron,,0896-6273\n")
    with pytest.raises(InputError, match="journals.csv:2: 'name' and 'abbreviation'"):
        load_journals(bad)


def test_corpus_build_and_stats_commands(tmp_path: Path, data_dir: Path) -> None:
    journals = tmp_path / "journals.csv"
    journals.write_text(
        "name,abbreviation,issn\nThe Journal of Neuroscience,J Neurosci,0270-6474\nNeuron,Neuron,0896-6273\n"
    )
    mine = tmp_path / "my_tests.csv"
    mine.write_text("doi\n10.1016/j.neuron.2013.01.001\n")
    runner = CliRunner()
    with eutils_server(ServerState(make_articles())) as url:
        result = runner.invoke(
            app,
            [
                "corpus",
                "build",
                "--out",
                str(tmp_path / "corpus"),
                "--journals",
                str(journals),
                "--eutils-url",
                url,
                "--exclude",
                str(mine),
                "--data-dir",
                str(data_dir),
            ],
            env={"NCBI_API_KEY": "k", "COLUMNS": "300"},
        )
    assert result.exit_code == 0, result.stderr
    assert "15 abstracts, 4 full texts" in result.stdout and "2 test-set articles dropped" in result.stdout
    result = runner.invoke(app, ["corpus", "stats", str(tmp_path / "corpus"), "--tokenizer", "embedded", "--json"])
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["unit"] == "tokens" and stats["total"]["documents"] == 16 and stats["total"]["tokens"] > 300
