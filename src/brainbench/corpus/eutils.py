"""A small NCBI E-utilities client: esearch with the history server, then efetch in batches.

NCBI allows 3 requests/s without an API key and 10/s with one; the client keeps to that, and
retries 429 (honouring Retry-After), 5xx, timeouts, dropped connections and XML cut short, with
exponential backoff. An error NCBI reports inside a 200 answer (``<ERROR>``) is raised, not retried.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import httpx

from brainbench.errors import BrainbenchError

logger = logging.getLogger(__name__)

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
RETRY_STATUS = {429, 500, 502, 503, 504}


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
        self.base_url = base_url.rstrip("/")
        self.common: dict[str, str] = {"tool": tool}
        if api_key:
            self.common["api_key"] = api_key
        if email:
            self.common["email"] = email
        self.min_interval = 1.0 / (requests_per_second or (10.0 if api_key else 3.0))
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.client = httpx.Client(timeout=timeout)
        self._last_request = 0.0
        self.requests_made = 0

    def _wait_for_turn(self) -> None:
        delay = self._last_request + self.min_interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last_request = time.monotonic()

    def get_xml(self, endpoint: str, params: dict[str, Any]) -> ET.Element:
        """GET ``{base_url}/{endpoint}`` and return the parsed XML root, retrying what can pass on a second try."""
        url = f"{self.base_url}/{endpoint}"
        for attempt in range(self.max_retries + 1):
            self._wait_for_turn()
            self.requests_made += 1
            retry_after = None
            try:
                response = self.client.get(url, params={**params, **self.common})
            except (httpx.TimeoutException, httpx.TransportError) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    try:
                        root = ET.fromstring(response.content)
                    except ET.ParseError as error:
                        problem = f"XML cut short or malformed ({error})"
                    else:
                        message = root.findtext("ERROR")
                        if message:
                            raise EUtilsError(f"{endpoint}: NCBI answered: {message.strip()}")
                        return root
                elif response.status_code in RETRY_STATUS:
                    problem = f"HTTP {response.status_code}"
                    header = response.headers.get("Retry-After", "")
                    retry_after = float(header) if header.replace(".", "", 1).isdigit() else None
                else:
                    raise EUtilsError(f"{endpoint}: HTTP {response.status_code}: {response.text[:300]}")
            if attempt == self.max_retries:
                raise EUtilsError(f"{endpoint}: gave up after {attempt + 1} tries ({problem})")
            delay = retry_after if retry_after is not None else self.backoff_s * 2**attempt
            logger.warning("%s: %s; retrying in %.1f s", endpoint, problem, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def esearch(self, db: str, term: str, *, mindate: str | None = None, maxdate: str | None = None) -> SearchResult:
        """Run a search and keep its result on the history server (``usehistory=y``)."""
        params: dict[str, Any] = {"db": db, "term": term, "usehistory": "y", "retmax": 0}
        if mindate or maxdate:
            params |= {"datetype": "pdat", "mindate": mindate or "1800", "maxdate": maxdate or "3000"}
        root = self.get_xml("esearch.fcgi", params)
        try:
            return SearchResult(int(root.findtext("Count") or 0), root.findtext("WebEnv") or "", root.findtext("QueryKey") or "")
        except ValueError as error:
            raise EUtilsError(f"esearch: unexpected answer: {ET.tostring(root)[:300]!r}") from error

    def efetch(self, db: str, search: SearchResult, retstart: int, retmax: int) -> ET.Element:
        """One batch of records of a search, as XML (PubmedArticleSet or pmc-articleset)."""
        return self.get_xml(
            "efetch.fcgi",
            {"db": db, "WebEnv": search.webenv, "query_key": search.query_key, "retstart": retstart, "retmax": retmax, "retmode": "xml"},
        )
