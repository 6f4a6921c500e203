"""One HTTP client for every remote call (scoring servers, NCBI E-utilities, chat models): retries what can pass
on a second try, with exponential backoff, and raises one clear error for what cannot."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from brainbench.errors import BrainbenchError

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
Answer = TypeVar("Answer")


class RetryableAnswer(Exception):
    """Raised by an answer check to have the request sent again (e.g. an XML answer cut short)."""


class RetryingClient:
    """``httpx.Client`` with retries: timeouts, dropped connections and ``RETRY_STATUS`` answers (honouring
    Retry-After) are retried up to ``max_retries`` times, waiting ``backoff_s * 2**attempt``; any other answer of
    400 or more raises ``error``. ``requests_per_second`` spaces requests out (shared by all threads)."""

    def __init__(
        self,
        base_url: str = "",
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff_s: float = 0.5,
        requests_per_second: float | None = None,
        error: type[BrainbenchError] = BrainbenchError,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=timeout)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.min_interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self.error = error
        self.requests_made = 0
        self._last_request = 0.0
        self._turn = threading.Lock()

    def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One request. With a rate limit, requests go one at a time, each at least ``min_interval`` after the
        previous answer came back (so the server never sees two closer, whatever the latency); without one,
        threads send at once."""
        if not self.min_interval:
            self.requests_made += 1
            return self.client.request(method, url, **options)
        with self._turn:
            time.sleep(max(0.0, self._last_request + self.min_interval - time.monotonic()))
            self.requests_made += 1
            try:
                return self.client.request(method, url, **options)
            finally:
                self._last_request = time.monotonic()

    def call(
        self,
        method: str,
        url: str,
        *,
        check: Callable[[httpx.Response], Answer] = lambda response: response,
        **options: Any,
    ) -> Answer:
        """Send a request until an answer below 400 passes ``check`` (which may raise RetryableAnswer); return what
        ``check`` returns."""
        where = f"{self.base_url}{url}" if not url.startswith("http") else url
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._send(method, url, **options)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    try:
                        return check(response)
                    except RetryableAnswer as error:
                        problem = str(error)
                elif response.status_code in RETRY_STATUS:
                    problem = f"HTTP {response.status_code}"
                    header = response.headers.get("Retry-After", "")
                    retry_after = float(header) if header.replace(".", "", 1).isdigit() else None
                else:
                    raise self.error(f"{where} answered {response.status_code}: {response.text[:500]}")
            if attempt == self.max_retries:
                raise self.error(f"{where}: gave up after {attempt + 1} tries ({problem})")
            delay = retry_after if retry_after is not None else self.backoff_s * 2**attempt
            logger.warning("%s: %s; retrying in %.1f s", where, problem, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def json(self, method: str, url: str, **options: Any) -> Any:
        """The JSON body of a request's answer (a body that is not JSON is an error)."""

        def parse(response: httpx.Response) -> Any:
            try:
                return response.json()
            except ValueError as error:
                raise self.error(f"{self.base_url}{url}: the answer is not JSON: {response.text[:300]}") from error

        return self.call(method, url, check=parse, **options)
