"""A local E-utilities server for tests: esearch (with the history server) and efetch for pubmed and
pmc, answering in NCBI's documented XML formats from a small made-up collection, with faults on
demand (429 with Retry-After, 503, XML cut short, an error in a 200 answer)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from tests.servers import http_server

# A DOI of BrainBench's human-made set: the corpus must exclude it.
TEST_SET_DOI = "10.1523/JNEUROSCI.2043-22.2023"


@dataclass
class Article:
    pmid: str
    journal: str  # the NLM abbreviation
    title: str
    year: int
    abstract: str
    doi: str | None = None
    pmcid: str | None = None
    body: str | None = None  # JATS <body> content for open-access full texts

    def pubmed_xml(self) -> str:
        ids = f'<ArticleId IdType="pubmed">{self.pmid}</ArticleId>'
        if self.doi:
            ids += f'<ArticleId IdType="doi">{escape(self.doi)}</ArticleId>'
        if self.pmcid:
            ids += f'<ArticleId IdType="pmc">{self.pmcid}</ArticleId>'
        return (
            f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{self.pmid}</PMID>'
            '<Article PubModel="Print"><Journal><ISSN IssnType="Print">0000-0000</ISSN><JournalIssue '
            'CitedMedium="Internet">'
            f"<Volume>1</Volume><PubDate><Year>{self.year}</Year><Month>Jan</Month></PubDate></JournalIssue>"
            f"<Title>{escape(JOURNALS[self.journal])}</Title><ISOAbbreviation>{escape(self.journal)}</ISOAbbreviation></Journal>"
            f"<ArticleTitle>{escape(self.title)}</ArticleTitle><Abstract>"
            + "".join(
                f'<AbstractText Label="{label}">{escape(text)}</AbstractText>'
                if label
                else f"<AbstractText>{escape(text)}</AbstractText>"
                for label, text in _abstract_parts(self.abstract)
            )
            + "</Abstract></Article>"
            f"<MedlineJournalInfo><MedlineTA>{escape(self.journal)}</MedlineTA></MedlineJournalInfo></MedlineCitation>"
            f"<PubmedData><ArticleIdList>{ids}</ArticleIdList></PubmedData></PubmedArticle>"
        )

    def jats_xml(self) -> str:
        ids = (
            f'<article-id pub-id-type="pmid">{self.pmid}</article-id>'
            f'<article-id pub-id-type="pmc">{self.pmcid}</article-id>'
        )
        if self.doi:
            ids += f'<article-id pub-id-type="doi">{escape(self.doi)}</article-id>'
        return (
            '<article article-type="research-article"><front><journal-meta><journal-title-group>'
            f"<journal-title>{escape(JOURNALS[self.journal])}</journal-title></journal-title-group></journal-meta>"
            f"<article-meta>{ids}<title-group><article-title>{escape(self.title)}</article-title></title-group>"
            f'<pub-date pub-type="epub"><year>{self.year}</year></pub-date></article-meta></front>'
            f"<body>{self.body}</body><back><ref-list><ref><mixed-citation>Cited work, "
            "1999.</mixed-citation></ref></ref-list></back></article>"
        )


def _abstract_parts(abstract: str) -> list[tuple[str | None, str]]:
    parts = []
    for piece in abstract.split(" || "):
        label, _, text = piece.partition(": ")
        parts.append((label, text) if text and label.isupper() else (None, piece))
    return parts


JOURNALS = {"J Neurosci": "The Journal of neuroscience", "Neuron": "Neuron"}


def make_articles() -> list[Article]:
    articles = []
    for number in range(9):
        articles.append(
            Article(
                pmid=str(1000 + number),
                journal="J Neurosci",
                year=2010 + number,
                title=f"Hippocampal circuit study {number}",
                abstract=f"BACKGROUND: Place cells encode space in study {number}. || RESULTS: Firing rates rose by "
                f"{number + 2} Hz after learning.",
                doi=f"10.1523/JNEUROSCI.{number}000-10.20{10 + number}",
                pmcid=f"PMC{5000 + number}" if number < 4 else None,
                body=(
                    '<sec><title>Introduction</title><p>Memory needs the hippocampus (<xref ref-type="bibr">Smith, '
                    f"2001</xref>) in case {number}.</p></sec>"
                    '<sec><title>Results</title><p>Cells fired more.<fig id="f1"><caption><p>Figure caption '
                    f"{number}.</p></caption></fig></p>"
                    f"<table-wrap><table><tr><td>1</td></tr></table></table-wrap><p>Rates rose by {number + 2} "
                    "Hz.</p></sec>"
                )
                if number < 4
                else None,
            )
        )
    for number in range(5):
        articles.append(
            Article(
                pmid=str(2000 + number),
                journal="Neuron",
                year=2012 + number,
                title=f"Cortical dynamics {number}",
                abstract=f"Neurons in cortex showed slow waves during sleep, case {number}.",
                doi=f"10.1016/j.neuron.20{12 + number}.0{number}.001",
            )
        )
    articles[9].doi = TEST_SET_DOI  # a BrainBench test case: must be excluded
    articles.append(
        Article(pmid="2099", journal="Neuron", year=2014, title=articles[10].title, abstract=articles[10].abstract)
    )  # same text again
    articles.append(
        Article(pmid="3000", journal="J Neurosci", year=1999, title="Too old", abstract="Outside the date range.")
    )
    return articles


@dataclass
class Faults:
    """Faults served once each, keyed by the n-th efetch request (1-based)."""

    efetch: dict[int, str] = field(default_factory=dict)  # "429", "503", "truncated", "error", "400"


@dataclass
class ServerState:
    articles: list[Article]
    faults: Faults = field(default_factory=Faults)
    searches: dict[str, list[Article]] = field(default_factory=dict)
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    efetch_calls: int = 0


def _search(state: ServerState, db: str, term: str, mindate: int, maxdate: int) -> list[Article]:
    journals = re.findall(r'"([^"]+)"\[ta\]', term)
    hits = [a for a in state.articles if a.journal in journals and mindate <= a.year <= maxdate]
    if db == "pmc":
        hits = [a for a in hits if a.pmcid and a.body]
    return sorted(hits, key=lambda a: a.pmid)


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            import time

            url = urlparse(self.path)
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            state.requests.append((time.monotonic(), url.path, params))
            if url.path.endswith("/esearch.fcgi"):
                hits = _search(
                    state,
                    params["db"],
                    params["term"],
                    int(params.get("mindate", "0")[:4]),
                    int(params.get("maxdate", "9999")[:4]),
                )
                key = str(len(state.searches) + 1)
                state.searches[key] = hits
                self._send(
                    200,
                    f'<?xml version="1.0"?><eSearchResult><Count>{len(hits)}</Count>'
                    "<RetMax>0</RetMax><RetStart>0</RetStart>"
                    f"<QueryKey>{key}</QueryKey><WebEnv>MCID_test</WebEnv><IdList/></eSearchResult>",
                )
            elif url.path.endswith("/efetch.fcgi"):
                state.efetch_calls += 1
                fault = state.faults.efetch.pop(state.efetch_calls, None)
                if fault == "429":
                    self._send(
                        429,
                        '{"error":"API rate limit exceeded","count":"4","limit":"3"}',
                        headers={"Retry-After": "0"},
                        content_type="application/json",
                    )
                    return
                if fault == "503":
                    self._send(503, "<html>busy</html>", content_type="text/html")
                    return
                if fault == "400":
                    self._send(400, "<html>bad request</html>", content_type="text/html")
                    return
                if fault == "error":
                    self._send(200, "<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>")
                    return
                hits = state.searches.get(params["query_key"], [])
                start, count = int(params.get("retstart", 0)), int(params.get("retmax", 20))
                batch = hits[start : start + count]
                if params["db"] == "pubmed":
                    body = (
                        '<?xml version="1.0"?><PubmedArticleSet>'
                        + "".join(a.pubmed_xml() for a in batch)
                        + "</PubmedArticleSet>"
                    )
                else:
                    body = (
                        '<?xml version="1.0"?><pmc-articleset>'
                        + "".join(a.jats_xml() for a in batch)
                        + "</pmc-articleset>"
                    )
                if fault == "truncated":
                    body = body[: len(body) // 2]
                self._send(200, body)
            else:
                self._send(404, "not found", content_type="text/plain")

        def _send(
            self, status: int, body: str, headers: dict[str, str] | None = None, content_type: str = "text/xml"
        ) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def eutils_server(state: ServerState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yields the E-utilities base URL."""
    with http_server(_handler(state)) as url:
        yield f"{url}/entrez/eutils"
