"""What brainbench's two web apps (the study, authoring) share: server-rendered Jinja2 pages with a
common look and a favicon, security headers on every response (500s included), CSRF tokens bound to the
browser's session, token-protected sign-in with sessions that expire and can be signed out, a bounded
per-client limit on wrong tokens, HTML error pages, and CSV exports that spreadsheets cannot execute."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape

from brainbench.errors import BrainbenchError

logger = logging.getLogger(__name__)
MAX_FORM_ID = 2**31 - 1  # ids and positions in forms and URLs: larger numbers are refused (422), never sent to SQL
SESSION_MAX_AGE_S = 8 * 3600  # a sign-in lasts a working day
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5cad"/>'
    '<path d="M9 23V9h7a4 4 0 0 1 0 8h-7m7 0h1a3 3 0 0 1 0 6H9" fill="none" stroke="#fff" stroke-width="2.5"/></svg>'
)

BASE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block heading %}{% endblock %} – {{ title }}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
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
  input[type=range].untouched { opacity: .45; }
  output { font-weight: 600; font-variant-numeric: tabular-nums; }
  fieldset { border: 1px solid #d5d9e0; border-radius: 8px; margin: 0 0 1rem; padding: .75rem 1rem; }
  legend { font-weight: 600; padding: 0 .25rem; }
  button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; min-height: 44px; cursor: pointer; }
  button.secondary { background: #5a6270; }
  button.link { background: none; color: var(--accent); padding: 0 .2rem; min-height: 0; text-decoration: underline; }
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
  .differences { display: none; } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: .5rem; margin: .4rem 0; }
  .pair > div { border: 1px solid #d5d9e0; border-radius: 6px; padding: .4rem .6rem; background: #f9fafb; }
  .pair .label { display: block; font-weight: 700; font-size: .85rem; color: #444; }
  @media (max-width: 48rem) { .differences { display: block; } .pair { grid-template-columns: 1fr; } }
  .codepoint { background: #fde2e2; outline: 1px solid #b00020; font-family: ui-monospace, monospace; font-size: .85em; }
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
SERVER_ERROR_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Server error</title></head><body>'
    "<h1>Something went wrong on the server</h1><p>The error is logged. Go back and try again; what you had "
    "saved before is kept.</p></body></html>"
)


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
    return hmac.compare_digest(given_bytes, expected.encode("utf-8", "surrogateescape"))


def header_bytes(value: str) -> bytes:
    """The raw bytes of a request header: Starlette decodes headers as Latin-1, so a client's UTF-8
    ``é`` arrives as two characters; encoding back to Latin-1 recovers what was sent."""
    return value.encode("latin-1", "replace")


def weak_secret(token: str) -> str | None:
    """Why ``token`` is too easy to guess for a sign-in token (None when it is not): shorter than 16
    characters, or fewer than 8 different characters (``aaaaaaaaaaaaaaaaaaaa``, ``1212...``)."""
    if len(token) < 16:
        return f"it has {len(token)} characters; use at least 16 (e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
    if len(set(token)) < 8:
        return f"it uses only {len(set(token))} different characters; use a random token"
    return None


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose (CSRF tokens, session cookies) from an app's secret."""
    return hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest()


class CsrfTokens:
    """CSRF tokens bound to a session: the token of a form is an HMAC (keyed by the server's secret) of the
    session it was served to, so a token/cookie pair taken from another session (the attacker's own, planted
    in a victim's browser from a sibling subdomain) does not fit the victim's session and is refused.

    A page's forms are bound to the most specific session there is: a participant's or a signed-in
    person's session cookie, else the browser's anonymous session (``sid_cookie``: a random id set with
    the first page; the consent and sign-in forms use it)."""

    def __init__(self, secret: bytes, sid_cookie: str) -> None:
        self.key, self.sid_cookie = derive_key(secret, "csrf"), sid_cookie

    def token(self, session: str) -> str:
        return _mac(self.key, session)

    def check(self, request: Request, token: str | None, session: str | None = None) -> None:
        """Refuse (403) a form whose ``token`` was not made for ``session`` (None: the anonymous session)."""
        bound = session if session is not None else request.cookies.get(self.sid_cookie, "")
        if not (token and bound and same_secret(token, self.token(bound))):
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
    Tries during a wait are refused unchecked (HTTP 429 with Retry-After) and do not count.

    Memory is bounded: at most ``max_clients`` clients are remembered (the longest quiet are forgotten
    first), and forgetting quiet clients costs time only for those forgotten, so a flood of addresses
    neither fills memory nor slows the check down."""

    def __init__(
        self,
        max_failures: int = 10,
        lockout_s: float = 900.0,
        max_delay_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.max_failures, self.lockout_s, self.max_delay_s, self.clock = max_failures, lockout_s, max_delay_s, clock
        self.max_clients = max_clients
        self._failures: OrderedDict[str, _Failures] = OrderedDict()  # least recently failed first
        self._lock = threading.Lock()

    @property
    def remembered(self) -> int:
        """How many clients it remembers now."""
        return len(self._failures)

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
            record = self._failures.pop(client, None) or _Failures(0, now)
            record.count += 1
            delay_s = (
                self.lockout_s
                if record.count >= self.max_failures
                else min(2.0 ** (record.count - 1), self.max_delay_s)
            )
            record.next_try_at = now + delay_s
            self._failures[client] = record  # now the most recent
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _forget_quiet(self, now: float) -> None:
        # oldest failures first: stop at the first client that is not quiet yet (amortised O(1) per request)
        while self._failures:
            record = next(iter(self._failures.values()))
            if now - record.next_try_at <= self.lockout_s:
                return
            self._failures.popitem(last=False)


def client_address(request: Request) -> str:
    """The client's IP address (behind a reverse proxy: the one uvicorn reads from X-Forwarded-For,
    which it reads only when the server was started with ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


class SignIn:
    """A token-protected area. A request is signed in with ``Authorization: Bearer <token>`` (as the token's
    owner) or with the session cookie set by the sign-in form: the owner's name, when it was signed in,
    and an HMAC keyed by the app's secret (never the token itself).

    ``owner(token) -> name | None`` says whose a token is. A session lasts ``max_age_s``; signing out
    ends every session of that name from before (``signed_out_at(name)`` returns when the name last
    signed out, or its token changed; ``sign_out(name, when)`` records it). Every wrong token, by form or
    Bearer, counts against the client in ``throttle``."""

    def __init__(
        self,
        owner: Callable[[bytes], str | None],
        key: bytes,
        cookie: str,
        throttle: LoginThrottle,
        *,
        secure_cookies: bool = False,
        max_age_s: float = SESSION_MAX_AGE_S,
        signed_out_at: Callable[[str], float | None] = lambda name: None,
        sign_out: Callable[[str, float], None] = lambda name, when: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.owner, self.cookie, self.throttle, self.secure_cookies = owner, cookie, throttle, secure_cookies
        self.key, self.max_age_s, self.clock = derive_key(key, "session"), max_age_s, clock
        self.signed_out_at, self._record_sign_out = signed_out_at, sign_out

    def who(self, request: Request) -> str | None:
        """The signed-in name, or None."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer":
                return self._owner(request, header_bytes(given.strip()))
        return self.session_name(request.cookies.get(self.cookie, ""))

    def session_name(self, value: str) -> str | None:
        """The name a session cookie's ``value`` signs in, if it is genuine, not expired and not signed out."""
        name_part, _, rest = value.partition(".")
        issued_part, _, signature = rest.partition(".")
        name = _unpack(name_part)
        if name is None or not issued_part.isdigit() or len(issued_part) > 16:
            return None
        if not same_secret(signature, _mac(self.key, f"{name}\n{issued_part}")):
            return None
        issued_s = int(issued_part) / 1000
        if not -60 < self.clock() - issued_s < self.max_age_s:  # a minute's leeway for clocks
            return None
        last_out = self.signed_out_at(name)
        return None if last_out is not None and issued_s <= last_out else name

    def session(self, request: Request) -> str:
        """The request's session cookie (to bind forms to), or "" when there is none."""
        value = request.cookies.get(self.cookie, "")
        return value if self.session_name(value) is not None else ""

    def require(self, request: Request, message: str) -> str:
        name = self.who(request)
        if name is None:
            raise PageError(message, 401)
        return name

    def sign_in(self, request: Request, given: str, then: str) -> RedirectResponse:
        """Check the ``given`` token; if it is someone's, redirect to ``then`` with a session cookie for them."""
        name = self._owner(request, given.encode("utf-8", "surrogateescape"))
        if name is None:
            raise PageError("wrong token", 401)
        last_out_ms = math.floor(1000 * (self.signed_out_at(name) or 0.0))
        issued_ms = max(math.floor(1000 * self.clock()), last_out_ms + 1)  # after any sign-out, even in the same ms
        signature = _mac(self.key, f"{name}\n{issued_ms}")
        response = RedirectResponse(then, status_code=303)
        response.set_cookie(
            self.cookie,
            f"{_pack(name)}.{issued_ms}.{signature}",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
            max_age=int(self.max_age_s),
        )
        return response

    def sign_out(self, request: Request, then: str) -> RedirectResponse:
        """End every session of the signed-in name (this browser's and any other's) and drop the cookie."""
        name = self.session_name(request.cookies.get(self.cookie, ""))
        if name is not None:
            self._record_sign_out(name, self.clock())
        response = RedirectResponse(then, status_code=303)
        response.delete_cookie(self.cookie, httponly=True, samesite="strict", secure=self.secure_cookies)
        return response

    def _owner(self, request: Request, given: bytes) -> str | None:
        client = client_address(request)
        self.throttle.check(client)
        name = self.owner(given) if given else None
        if name is not None:
            self.throttle.succeeded(client)
            return name
        self.throttle.failed(client)
        return None


def single_token(token: str, name: str) -> Callable[[bytes], str | None]:
    """``owner`` for an area with one token: ``name`` for the right token (compared in constant time as bytes)."""
    return lambda given: name if same_secret(given, token) else None


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
    """Set :func:`security_headers` on every response of ``app``, an unexpected error's 500 page included
    (logged, and answered as HTML here rather than as the server's bare text); pages read the nonce from
    ``request.state``. Also serves the favicon both apps share."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.csp_nonce = secrets.token_urlsafe(16)
        try:
            response = await call_next(request)
        except Exception:  # a bug: logged with its traceback, answered with a page that says so
            logger.exception("unexpected error answering %s %s", request.method, request.url.path)
            response = HTMLResponse(SERVER_ERROR_PAGE, status_code=500)
        response.headers.update(security_headers(request.state.csp_nonce))
        return response

    @app.get("/favicon.svg", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        return Response(FAVICON_SVG, media_type="image/svg+xml")


class Pages:
    """Renders ``templates`` (name -> Jinja2 source, extending "base.html") with a CSRF token for the
    page's forms and the response's CSP nonce (``<script nonce="{{ csp_nonce }}">``)."""

    def __init__(self, templates: dict[str, str], title: str, csrf: CsrfTokens, secure_cookies: bool = False) -> None:
        loader = DictLoader({"base.html": BASE_TEMPLATE, "error.html": ERROR_TEMPLATE, **templates})
        self.environment = Environment(loader=loader, autoescape=select_autoescape(default=True))
        self.title, self.csrf, self.secure_cookies = title, csrf, secure_cookies

    def render(
        self,
        name: str,
        request: Request,
        status: int = 200,
        headers: dict[str, str] | None = None,
        session: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """The page ``name``; its forms are bound to ``session`` (a session cookie's value), or to the
        browser's anonymous session when None (set as a cookie when the browser has none yet)."""
        sid = request.cookies.get(self.csrf.sid_cookie) or ""
        new_sid = "" if sid else secrets.token_urlsafe(24)
        token = self.csrf.token(session if session else (sid or new_sid))
        nonce = getattr(request.state, "csp_nonce", "")
        html = self.environment.get_template(name).render(title=self.title, csrf=token, csp_nonce=nonce, **context)
        response = HTMLResponse(html, status_code=status, headers=headers)
        if new_sid:
            response.set_cookie(
                self.csrf.sid_cookie, new_sid, httponly=True, samesite="lax", secure=self.secure_cookies
            )
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
