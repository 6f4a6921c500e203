"""What brainbench's two web apps (the study, authoring) share: server-rendered Jinja2 pages with a
common look, security headers on every response, signed CSRF tokens, a token-protected sign-in with a
per-client limit on wrong tokens, HTML error pages, and CSV exports that spreadsheets cannot execute."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape

from brainbench.errors import BrainbenchError

CSRF_COOKIE = "bb_csrf"

BASE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block heading %}{% endblock %} – {{ title }}</title>
<style nonce="{{ csp_nonce }}">
  :root { color-scheme: light; --accent: #0b5cad; }
  body { font: 17px/1.55 system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #f6f7f9; }
  main { max-width: 68rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
  .card { background: #fff; border: 1px solid #d5d9e0; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
  .abstracts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  @media (max-width: 48rem) { .abstracts { grid-template-columns: 1fr; } }
  .abstract p { margin: 0; }
  label.choice { display: flex; gap: .5rem; align-items: center; font-weight: 600; margin-bottom: .5rem; min-height: 44px; }
  input[type=radio], input[type=checkbox] { width: 1.4rem; height: 1.4rem; }
  input[type=range] { width: 100%; min-height: 44px; }
  output { font-weight: 600; font-variant-numeric: tabular-nums; }
  fieldset { border: 1px solid #d5d9e0; border-radius: 8px; margin: 0 0 1rem; padding: .75rem 1rem; }
  legend { font-weight: 600; padding: 0 .25rem; }
  button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; min-height: 44px; cursor: pointer; }
  button.secondary { background: #5a6270; }
  button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
  select, input[type=number], input[type=text], input[type=password] { font: inherit; padding: .4rem; min-height: 44px; width: 100%; max-width: 24rem; box-sizing: border-box; }
  textarea { font: inherit; width: 100%; min-height: 14rem; box-sizing: border-box; padding: .5rem; }
  .field { margin-bottom: .8rem; } .field label { display: block; font-weight: 600; }
  .problem { color: #b00020; font-weight: 600; margin: .2rem 0; }
  progress { width: 100%; height: 1rem; }
  .error { border-color: #b00020; color: #b00020; }
  .notice { border-color: #f0a500; background: #fff8e1; }
  .scale { display: flex; justify-content: space-between; font-size: .85rem; color: #555; }
  table { border-collapse: collapse; } td, th { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
  mark { background: #ffe58a; }
</style>
</head>
<body><main>
{% block body %}{% endblock %}
</main></body></html>
"""
ERROR_TEMPLATE = """{% extends "base.html" %}{% block heading %}Problem{% endblock %}{% block body %}
<h1>Something needs your attention</h1><div class="card error" role="alert"><p>{{ message }}</p>
{% if problems %}<ul>{% for problem in problems %}<li>{{ problem }}</li>{% endfor %}</ul>{% endif %}</div>
<p><a href="{{ back }}">Back</a></p>
{% endblock %}"""


class PageError(BrainbenchError):
    """A request a page refuses; ``status`` is the HTTP status to answer with, ``headers`` extra response headers."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


# secrets


def same_secret(given: str | bytes, expected: str) -> bool:
    """Constant-time comparison of two secrets as UTF-8 bytes (``hmac.compare_digest`` on str raises
    TypeError for non-ASCII text, which would answer a stranger's ``é`` with a 500)."""
    given_bytes = given if isinstance(given, bytes) else given.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given_bytes, expected.encode("utf-8"))


def header_bytes(value: str) -> bytes:
    """The raw bytes of a request header: Starlette decodes headers as Latin-1, so a client's UTF-8
    ``é`` arrives as two characters; encoding back to Latin-1 recovers what was sent."""
    return value.encode("latin-1", "replace")


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


class CsrfTokens:
    """Signed double-submit CSRF tokens: ``random.signature``, set as a cookie with each page and repeated
    in every form. A form counts only if its token equals the cookie *and* carries this server's
    signature, so an attacker who can plant a cookie (a sibling subdomain) cannot choose a matching pair."""

    def __init__(self, secret: bytes) -> None:
        self.key = hmac.new(secret, b"csrf", hashlib.sha256).digest()

    def issue(self) -> str:
        value = secrets.token_urlsafe(18)
        return f"{value}.{_mac(self.key, value)}"

    def valid(self, token: str | None) -> bool:
        value, _, signature = (token or "").partition(".")
        return bool(value) and same_secret(signature, _mac(self.key, value))

    def check(self, request: Request, token: str | None) -> None:
        """The form's ``token`` must be this server's and equal the cookie set with the page."""
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if not (token and self.valid(token) and same_secret(cookie, token)):
            raise PageError("the form expired or came from elsewhere: reload the page and try again", 403)


# sign-in


@dataclass
class _Failures:
    count: int
    next_try_at: float


class LoginThrottle:
    """Wrong tokens per client (IP address): after each failure the client must wait before the next try
    (1 s, 2 s, 4 s, ... at most ``max_delay_s``); after ``max_failures`` in a row it is locked out for
    ``lockout_s``. A right token clears the count; so does a quiet ``lockout_s`` after the last wait.
    Tries during a wait are refused unchecked (HTTP 429 with Retry-After) and do not count."""

    def __init__(
        self,
        max_failures: int = 10,
        lockout_s: float = 900.0,
        max_delay_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.lockout_s, self.max_delay_s, self.clock = max_failures, lockout_s, max_delay_s, clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise a 429 PageError while ``client`` must wait."""
        with self._lock:
            now = self.clock()
            self._forget_quiet(now)
            record = self._failures.get(client)
            wait_s = record.next_try_at - now if record else 0.0
        if wait_s > 0:
            locked = record is not None and record.count >= self.max_failures
            reason = "too many wrong tokens: locked out" if locked else "a wrong token: wait"
            raise PageError(
                f"{reason}; try again in {math.ceil(wait_s)} s", 429, {"Retry-After": str(math.ceil(wait_s))}
            )

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            record = self._failures.setdefault(client, _Failures(0, now))
            record.count += 1
            delay_s = (
                self.lockout_s
                if record.count >= self.max_failures
                else min(2.0 ** (record.count - 1), self.max_delay_s)
            )
            record.next_try_at = now + delay_s

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _forget_quiet(self, now: float) -> None:
        for client in [
            client for client, record in self._failures.items() if now - record.next_try_at > self.lockout_s
        ]:
            del self._failures[client]


def client_address(request: Request) -> str:
    """The client's IP address (behind a reverse proxy: the one uvicorn reads from X-Forwarded-For,
    which it trusts only from ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


class SignIn:
    """A token-protected area: a request is signed in with ``Authorization: Bearer <token>`` or with the
    session cookie set by the sign-in form. The cookie holds the signed-in name and an HMAC keyed by the
    token (never the token itself). Every wrong token counts against the client in ``throttle``."""

    def __init__(
        self, token: str, cookie: str, purpose: str, throttle: LoginThrottle, secure_cookies: bool = False
    ) -> None:
        self.token, self.cookie, self.throttle, self.secure_cookies = token, cookie, throttle, secure_cookies
        self.key = hmac.new(token.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()

    def who(self, request: Request) -> str | None:
        """The signed-in name (``"token"`` for a Bearer request), or None."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer":
                return "token" if self._right_token(request, header_bytes(given.strip())) else None
        name_part, _, signature = request.cookies.get(self.cookie, "").partition(".")
        name = _unpack(name_part)
        return name if name is not None and same_secret(signature, _mac(self.key, name)) else None

    def require(self, request: Request, message: str) -> str:
        name = self.who(request)
        if name is None:
            raise PageError(message, 401)
        return name

    def sign_in(self, request: Request, given: str, name: str, then: str) -> RedirectResponse:
        """Check the ``given`` token; if right, redirect to ``then`` with the session cookie for ``name``."""
        if not self._right_token(request, given):
            raise PageError("wrong token", 401)
        response = RedirectResponse(then, status_code=303)
        response.set_cookie(
            self.cookie,
            f"{_pack(name)}.{_mac(self.key, name)}",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )
        return response

    def _right_token(self, request: Request, given: str | bytes) -> bool:
        client = client_address(request)
        self.throttle.check(client)
        if same_secret(given, self.token):
            self.throttle.succeeded(client)
            return True
        self.throttle.failed(client)
        return False


def _pack(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def _unpack(packed: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(packed.encode("ascii")).decode("utf-8") if packed else None
    except (ValueError, UnicodeError):
        return None


# pages and headers


def security_headers(nonce: str) -> dict[str, str]:
    """Headers for every response: scripts and styles only from this page (by nonce), no framing, no
    MIME sniffing, no referrer, nothing cached (pages and exports hold participants' data)."""
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def add_security_headers(app: FastAPI) -> None:
    """Set :func:`security_headers` on every response of ``app``; pages read the nonce from ``request.state``."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.csp_nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers.update(security_headers(request.state.csp_nonce))
        return response


class Pages:
    """Renders ``templates`` (name -> Jinja2 source, extending "base.html") with a CSRF token for forms
    and the response's CSP nonce (``<script nonce="{{ csp_nonce }}">``)."""

    def __init__(self, templates: dict[str, str], title: str, csrf: CsrfTokens, secure_cookies: bool = False) -> None:
        loader = DictLoader({"base.html": BASE_TEMPLATE, "error.html": ERROR_TEMPLATE, **templates})
        self.environment = Environment(loader=loader, autoescape=select_autoescape(default=True))
        self.title, self.csrf, self.secure_cookies = title, csrf, secure_cookies

    def render(
        self, name: str, request: Request, status: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> HTMLResponse:
        cookie = request.cookies.get(CSRF_COOKIE)
        token = cookie if self.csrf.valid(cookie) else self.csrf.issue()
        nonce = getattr(request.state, "csp_nonce", "")
        html = self.environment.get_template(name).render(title=self.title, csrf=token, csp_nonce=nonce, **context)
        response = HTMLResponse(html, status_code=status, headers=headers)
        if token != cookie:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=self.secure_cookies)
        return response

    def add_error_pages(self, app: FastAPI, back: str = "/") -> None:
        """Answer refused requests and malformed forms with an HTML page that says what to fix (not JSON)."""

        @app.exception_handler(PageError)
        async def _refused(request: Request, error: PageError) -> Response:
            return self.render(
                "error.html",
                request,
                status=error.status,
                headers=error.headers,
                message=str(error),
                problems=[],
                back=back,
            )

        @app.exception_handler(RequestValidationError)
        async def _malformed(request: Request, error: RequestValidationError) -> Response:
            return self.render(
                "error.html",
                request,
                status=422,
                message="the form is incomplete or malformed:",
                problems=describe_problems(error.errors()),
                back=back,
            )


def describe_problems(errors: Sequence[Any]) -> list[str]:
    """One line per field from pydantic/FastAPI validation errors: ``age: Input should be a valid integer``."""
    lines = []
    for error in errors:
        field = ".".join(str(part) for part in error["loc"] if part not in ("body", "query", "header", "cookie"))
        lines.append(f"{field or 'form'}: {'missing' if error['type'] == 'missing' else error['msg']}")
    return lines


# CSV exports

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell that starts like a formula (= + - @, tab or CR) with an apostrophe in front, so that
    Excel, LibreOffice and Google Sheets show it instead of running it (CSV injection). The real text is
    the cell without that first apostrophe. Numbers are left alone (a negative number is no formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ",") -> str:
    """A CSV export with every text cell made :func:`spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(value) for value in row] for row in rows)
    return buffer.getvalue()
