"""A small NCBI E-utilities client: esearch with the history server, then efetch in batches.

NCBI allows 3 requests/s without an API key and 10/s with one; the client keeps to that, and
retries 429 (honouring Retry-After), 5xx, timeouts, dropped connections and XML cut short, with
exponential backoff. An error NCBI reports inside a 200 answer (``<ERROR>``) is raised, not retried.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import httpx

from brainbench.errors import BrainbenchError
from brainbench.http import RetryableAnswer, RetryingClient

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"


class EUtilsError(BrainbenchError):
    """E-utilities refused a request or kept failing."""


@dataclass(frozen=True)
class SearchResult:
    """Where esearch left its result on the history server."""

    count: int
    webenv: str
    query_key: str


class EUtilsClient:
    def __init__(
        self,
        base_url: str = EUTILS_URL,
        *,
        api_key: str | None = None,
        email: str | None = None,
        tool: str = "brainbench",
        requests_per_second: float | None = None,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        self.common: dict[str, str] = {"tool": tool}
        if api_key:
            self.common["api_key"] = api_key
        if email:
            self.common["email"] = email
        self.http = RetryingClient(
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            backoff_s=backoff_s,
            requests_per_second=requests_per_second or (10.0 if api_key else 3.0),
            error=EUtilsError,
        )

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def get_xml(self, endpoint: str, params: dict[str, Any]) -> ET.Element:
        """GET ``{base_url}/{endpoint}`` and return the parsed XML root, retrying what can pass on a second try."""

        def parse(response: httpx.Response) -> ET.Element:
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError as error:
                raise RetryableAnswer(f"XML cut short or malformed ({error})") from error
            message = root.findtext("ERROR")
            if message:
                raise EUtilsError(f"{endpoint}: NCBI answered: {message.strip()}")
            return root

        return self.http.call("GET", f"/{endpoint}", params={**params, **self.common}, check=parse)

    def esearch(self, db: str, term: str, *, mindate: str | None = None, maxdate: str | None = None) -> SearchResult:
        """Run a search and keep its result on the history server (``usehistory=y``)."""
        params: dict[str, Any] = {"db": db, "term": term, "usehistory": "y", "retmax": 0}
        if mindate or maxdate:
            params |= {"datetype": "pdat", "mindate": mindate or "1800", "maxdate": maxdate or "3000"}
        root = self.get_xml("esearch.fcgi", params)
        try:
            return SearchResult(
                int(root.findtext("Count") or 0), root.findtext("WebEnv") or "", root.findtext("QueryKey") or ""
            )
        except ValueError as error:
            raise EUtilsError(f"esearch: unexpected answer: {ET.tostring(root)[:300]!r}") from error

    def efetch(self, db: str, search: SearchResult, retstart: int, retmax: int) -> ET.Element:
        """One batch of records of a search, as XML (PubmedArticleSet or pmc-articleset)."""
        return self.get_xml(
            "efetch.fcgi",
            {
                "db": db,
                "WebEnv": search.webenv,
                "query_key": search.query_key,
                "retstart": retstart,
                "retmax": retmax,
                "retmode": "xml",
            },
        )
