"""What brainbench's web pages share: server-rendered Jinja2 pages with a common look, security headers,
CSRF tokens (double submit: a cookie and a form field that must match) and a token-protected sign-in."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, select_autoescape

from brainbench.errors import BrainbenchError

CSRF_COOKIE = "bb_csrf"

BASE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block heading %}{% endblock %} – {{ title }}</title>
<style>
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
  fieldset { border: 1px solid #d5d9e0; border-radius: 8px; margin: 0 0 1rem; padding: .75rem 1rem; }
  legend { font-weight: 600; padding: 0 .25rem; }
  button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; min-height: 44px; cursor: pointer; }
  button.secondary { background: #5a6270; }
  button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
  select, input[type=number], input[type=text], input[type=password] { font: inherit; padding: .4rem; min-height: 44px; width: 100%; max-width: 24rem; box-sizing: border-box; }
  textarea { font: inherit; width: 100%; min-height: 14rem; box-sizing: border-box; padding: .5rem; }
  .field { margin-bottom: .8rem; } .field label { display: block; font-weight: 600; }
  progress { width: 100%; height: 1rem; }
  .error { border-color: #b00020; color: #b00020; }
  .scale { display: flex; justify-content: space-between; font-size: .85rem; color: #555; }
  table { border-collapse: collapse; } td, th { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
  mark { background: #ffe58a; }
</style>
</head>
<body><main>
{% block body %}{% endblock %}
</main></body></html>
"""


class PageError(BrainbenchError):
    """A request a page refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Pages:
    """Renders ``templates`` (name -> Jinja2 source, extending "base.html") with a CSRF token for forms."""

    def __init__(self, templates: dict[str, str], title: str) -> None:
        self.environment = Environment(loader=DictLoader({"base.html": BASE_TEMPLATE, **templates}), autoescape=select_autoescape(default=True))
        self.title = title

    def render(self, name: str, request: Request, status: int = 200, **context: object) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = HTMLResponse(self.environment.get_template(name).render(title=self.title, csrf=csrf, **context), status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        return response


def check_csrf(request: Request, token: str) -> None:
    """The form's CSRF token must equal the cookie set with the page."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not hmac.compare_digest(cookie, token):
        raise PageError("the form expired or came from elsewhere: reload the page and try again", 403)


def session_value(token: str, purpose: str) -> str:
    """What a signed-in cookie holds: derived from the secret token, never the token itself."""
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def signed_in(request: Request, authorization: str | None, token: str, cookie: str, purpose: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` or the session cookie."""
    if authorization and authorization.startswith("Bearer ") and hmac.compare_digest(authorization[7:], token):
        return True
    value = request.cookies.get(cookie)
    return bool(value) and hmac.compare_digest(value, session_value(token, purpose))
