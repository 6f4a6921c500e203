"""The authoring page: experts write alterations of candidate abstracts and review the queue.

``/``             candidates to alter, and the queue (proposed, accepted, rejected), each item with its
                  review decisions (who, when, from, to, note) and a form to decide or change a decision
``/write/<n>``    candidate n: the abstract, and an editable copy in which the expert selects the result
                  words and types the altered wording; saved as ``[[original, altered]]`` after the checks
``/graded/<n>``   candidate n as a graded case: the number that states a result and a grid of values for it
Every page needs the authoring token (a sign-in form with the reviewer's name sets a cookie; or
``Authorization: Bearer``); wrong tokens slow a client down, then lock it out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from brainbench.authoring.edits import check_alteration
from brainbench.authoring.graded import check_graded
from brainbench.authoring.queue import STATUSES, ReviewConflict, ReviewQueue, UnknownItem
from brainbench.errors import InputError
from brainbench.web import FORMULA_STARTS, CsrfTokens, LoginThrottle, PageError, Pages, SignIn, add_security_headers

COOKIE = "bb_author"
MAX_TEXT_CHARS = 20_000  # an abstract has ~2,000 characters: a longer form is refused before any check runs
NEW_SUBFIELD = "__new"
STATUS_OF = {UnknownItem: 404, ReviewConflict: 409}
TEMPLATES = {
    "login.html": """{% extends "base.html" %}{% block heading %}Sign in{% endblock %}{% block body %}
<h1>Authoring: sign in</h1>
<form method="post" action="/login" class="card"><input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field"><label for="name">Your name</label><input id="name" name="name" type="text" maxlength="100" required autocomplete="name"></div>
<div class="field"><label for="token">Authoring token</label><input id="token" name="token" type="password" required></div>
<button type="submit">Sign in</button></form>{% endblock %}""",
    "index.html": """{% extends "base.html" %}{% block heading %}Authoring{% endblock %}{% block body %}
<h1>New test cases</h1><p>Signed in as {{ reviewer }}.</p>
<div class="card"><h2>Candidates</h2>
{% if candidates %}<table><tr><th>#</th><th>journal</th><th>DOI</th><th></th></tr>
{% for candidate in candidates %}<tr><td>{{ loop.index0 }}</td><td>{{ candidate.journal }}</td><td>{{ candidate.doi }}</td>
<td><a href="/write/{{ loop.index0 }}">Write an alteration</a> · <a href="/graded/{{ loop.index0 }}">Make a graded case</a></td></tr>{% endfor %}</table>
{% else %}<p>No candidate file: start with <code>brainbench author serve --candidates FILE</code>.</p>{% endif %}</div>
{% for status in statuses %}
<div class="card"><h2>{{ status|capitalize }} ({{ queue[status]|length }})</h2>
{% for item in queue[status] %}<div class="card" id="item-{{ item.id }}">
<p><strong>#{{ item.id }}</strong> {{ item.doi or "" }} · {{ item.subfield or "no subfield" }} ·
written by {{ item.provenance.get("by", item.provenance.get("author", item.provenance.get("model", ""))) }}</p>
{% if item.combined %}<p>{{ item.combined }}</p>{% else %}<p>{{ item.altered }}</p>{% endif %}
{% if item.reasons %}<ul class="error">{% for reason in item.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}
{% if item.history %}<table aria-label="Decisions on #{{ item.id }}"><tr><th>when (UTC)</th><th>who</th><th>decision</th><th>note</th></tr>
{% for decision in item.history %}<tr><td>{{ decision.decided_at }}</td><td>{{ decision.reviewer }}</td>
<td>{{ decision.from_status }} → {{ decision.to_status }}{% if decision.edited %} (edited){% endif %}</td><td>{{ decision.note or "" }}</td></tr>{% endfor %}</table>{% endif %}
<form method="post" action="/review/{{ item.id }}"><input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="expected" value="{{ item.status }}">
<div class="field"><label for="note-{{ item.id }}">Note on #{{ item.id }}{% if item.history %} (needed to change a decision){% endif %}</label>
<input id="note-{{ item.id }}" name="note" type="text" maxlength="2000"{% if item.history %} required{% endif %}></div>
{% if status != "accepted" %}<button name="decision" value="accepted">Accept #{{ item.id }}</button>{% endif %}
{% if status != "rejected" %}<button class="secondary" name="decision" value="rejected">Reject #{{ item.id }}</button>{% endif %}</form>
</div>{% endfor %}</div>{% endfor %}
{% endblock %}""",
    "write.html": """{% extends "base.html" %}{% block heading %}Write{% endblock %}{% block body %}
<h1>Alter the results</h1>
<p>{{ candidate.journal }} · {{ candidate.doi }}</p>
{% if reasons %}<div class="card error" role="alert"><p>Not saved:</p><ul>{% for reason in reasons %}<li>{{ reason }}</li>{% endfor %}</ul></div>{% endif %}
<div class="card abstract"><h2>Published abstract</h2><p>{{ candidate.text }}</p></div>
<form method="post" action="/write/{{ index }}" class="card"><input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field"><label for="altered">Altered abstract: select the words that state a result and type what they should say instead.
Leave background and methods as they are.</label>
<textarea id="altered" name="altered" required maxlength="{{ max_chars }}">{{ altered }}</textarea></div>
<div class="field"><label for="subfield">Subfield</label>
<select id="subfield" name="subfield" required><option value="">Choose…</option>
{% for name in subfields %}<option{% if chosen == name %} selected{% endif %}>{{ name }}</option>{% endfor %}
<option value="__new"{% if chosen == "__new" %} selected{% endif %}>Another subfield (write it below)</option></select></div>
<div class="field"><label for="new_subfield">Another subfield</label>
<input id="new_subfield" name="new_subfield" type="text" maxlength="100" value="{{ new_subfield }}"></div>
<button type="submit">Save for review</button></form>
{% endblock %}""",
    "graded.html": """{% extends "base.html" %}{% block heading %}Graded case{% endblock %}{% block body %}
<h1>Make a graded case</h1>
<p>{{ candidate.journal }} · {{ candidate.doi }}</p>
{% if reasons %}<div class="card error" role="alert"><p>Not saved:</p><ul>{% for reason in reasons %}<li>{{ reason }}</li>{% endfor %}</ul></div>{% endif %}
<div class="card abstract"><h2>Published abstract</h2><p>{{ candidate.text }}</p></div>
<form method="post" action="/graded/{{ index }}" class="card"><input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field"><label for="number">The number that states a result, copied as the abstract writes it (e.g. 35%, 2-fold, 3–4 Hz)</label>
<input id="number" name="number" type="text" maxlength="100" required value="{{ number }}"></div>
<div class="field"><label for="values">Values it could have been, one per line, the real one among them, written the same way</label>
<textarea id="values" name="values" required maxlength="2000">{{ values }}</textarea></div>
<div class="field"><label for="unit">Unit (optional)</label><input id="unit" name="unit" type="text" maxlength="50" value="{{ unit }}"></div>
<div class="field"><label for="subfield">Subfield</label>
<select id="subfield" name="subfield" required><option value="">Choose…</option>
{% for name in subfields %}<option{% if chosen == name %} selected{% endif %}>{{ name }}</option>{% endfor %}
<option value="__new"{% if chosen == "__new" %} selected{% endif %}>Another subfield (write it below)</option></select></div>
<div class="field"><label for="new_subfield">Another subfield</label>
<input id="new_subfield" name="new_subfield" type="text" maxlength="100" value="{{ new_subfield }}"></div>
<button type="submit">Save for review</button></form>
{% endblock %}""",
}


def choose_subfield(chosen: str, new: str, known: Sequence[str]) -> tuple[str, list[str]]:
    """``(subfield, problems)`` from the form: one of ``known``, or an explicitly new one."""
    subfield = new.strip() if chosen == NEW_SUBFIELD else chosen.strip()
    if not subfield:
        return "", ["choose a subfield from the list, or choose 'Another subfield' and write it"]
    if chosen != NEW_SUBFIELD and subfield not in known:
        return "", [f"{subfield!r} is not one of the subfields: choose 'Another subfield' to add it"]
    if subfield.startswith(FORMULA_STARTS):  # it becomes a cell of the test set's CSV, which is read back verbatim
        return "", ["a subfield cannot start with = + - or @ (a spreadsheet would run it as a formula)"]
    return subfield, []


def create_app(
    queue: ReviewQueue,
    token: str,
    candidates: list[dict[str, Any]],
    title: str = "brainbench authoring",
    subfields: Sequence[str] = (),
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The authoring app on ``queue``. ``subfields``: those of the test set being extended (the candidates'
    and the queue's are offered too); ``secure_cookies``: cookies over HTTPS only."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    add_security_headers(app)
    pages = Pages(
        TEMPLATES,
        title,
        CsrfTokens(hmac.new(token.encode("utf-8"), b"authoring-csrf", hashlib.sha256).digest()),
        secure_cookies,
    )
    pages.add_error_pages(app)
    page, csrf = pages.render, pages.csrf
    authors = SignIn(token, COOKIE, "authoring", throttle or LoginThrottle(), secure_cookies)

    def require(request: Request) -> str:
        return authors.require(request, "sign in with the authoring token first")

    def known_subfields() -> list[str]:
        named = {
            *subfields,
            *(candidate.get("subfield") or "" for candidate in candidates),
            *(item["subfield"] for item in queue.items()),
        }
        return sorted(name for name in named if name.strip())

    @app.exception_handler(PageError)
    async def refused(request: Request, error: PageError) -> Response:
        if error.status == 401:
            return page("login.html", request, status=401)
        return page(
            "error.html", request, status=error.status, headers=error.headers, message=str(error), problems=[], back="/"
        )

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> Response:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 422)
        return page("error.html", request, status=status, message=str(error), problems=[], back="/")

    @app.post("/login")
    def login(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        name: Annotated[str, Form(max_length=100)],
        token_given: Annotated[str, Form(alias="token")],
    ) -> Response:
        csrf.check(request, csrf_token)
        if not name.strip():
            raise PageError("write your name: it is recorded with your review decisions", 422)
        return authors.sign_in(request, token_given, name.strip(), then="/")

    @app.get("/")
    def index(request: Request) -> Response:
        reviewer = require(request)
        items = queue.items()
        return page(
            "index.html",
            request,
            reviewer=reviewer,
            candidates=candidates,
            statuses=STATUSES,
            queue={status: [item for item in items if item["status"] == status] for status in STATUSES},
        )

    def candidate_at(index: int) -> dict[str, Any]:
        if not 0 <= index < len(candidates):
            raise PageError(f"no candidate {index}", 404)
        return candidates[index]

    @app.get("/write/{index}")
    def write(request: Request, index: int) -> Response:
        require(request)
        candidate = candidate_at(index)
        known = known_subfields()
        return page(
            "write.html",
            request,
            index=index,
            candidate=candidate,
            altered=candidate["text"],
            reasons=[],
            subfields=known,
            chosen=candidate.get("subfield") if candidate.get("subfield") in known else "",
            new_subfield="",
            max_chars=MAX_TEXT_CHARS,
        )

    @app.post("/write/{index}")
    def save(
        request: Request,
        index: int,
        csrf_token: Annotated[str, Form(alias="csrf")],
        altered: Annotated[str, Form(max_length=MAX_TEXT_CHARS)],
        subfield: Annotated[str, Form(max_length=200)] = "",
        new_subfield: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        author = require(request)
        csrf.check(request, csrf_token)
        candidate = candidate_at(index)
        known = known_subfields()
        chosen, reasons = choose_subfield(subfield, new_subfield, known)
        altered = " ".join(altered.split())
        reasons += check_alteration(candidate["text"], altered)
        if reasons:
            return page(
                "write.html",
                request,
                status=422,
                index=index,
                candidate=candidate,
                altered=altered,
                reasons=reasons,
                subfields=known,
                chosen=subfield,
                new_subfield=new_subfield,
                max_chars=MAX_TEXT_CHARS,
            )
        queue.add({**candidate, "subfield": chosen}, altered, {"author": "human", "by": author}, [])
        return RedirectResponse("/", status_code=303)

    @app.get("/graded/{index}")
    def graded(request: Request, index: int) -> Response:
        require(request)
        candidate = candidate_at(index)
        known = known_subfields()
        return page(
            "graded.html",
            request,
            index=index,
            candidate=candidate,
            number="",
            values="",
            unit="",
            reasons=[],
            subfields=known,
            chosen=candidate.get("subfield") if candidate.get("subfield") in known else "",
            new_subfield="",
        )

    @app.post("/graded/{index}")
    def save_graded(
        request: Request,
        index: int,
        csrf_token: Annotated[str, Form(alias="csrf")],
        number: Annotated[str, Form(max_length=100)],
        values: Annotated[str, Form(max_length=2000)],
        unit: Annotated[str, Form(max_length=50)] = "",
        subfield: Annotated[str, Form(max_length=200)] = "",
        new_subfield: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        author = require(request)
        csrf.check(request, csrf_token)
        candidate = candidate_at(index)
        known = known_subfields()
        chosen, reasons = choose_subfield(subfield, new_subfield, known)
        grid = [line for line in values.splitlines() if line.strip()]
        reasons += check_graded(candidate["text"], number, grid, unit)[1]
        if reasons:
            return page(
                "graded.html",
                request,
                status=422,
                index=index,
                candidate=candidate,
                number=number,
                values=values,
                unit=unit,
                reasons=reasons,
                subfields=known,
                chosen=subfield,
                new_subfield=new_subfield,
            )
        queue.add_graded({**candidate, "subfield": chosen}, number, grid, unit, {"author": "human", "by": author})
        return RedirectResponse("/", status_code=303)

    @app.post("/review/{item_id}")
    def review(
        request: Request,
        item_id: int,
        csrf_token: Annotated[str, Form(alias="csrf")],
        decision: Annotated[str, Form()],
        expected: Annotated[str, Form()],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        reviewer = require(request)
        csrf.check(request, csrf_token)
        queue.review(item_id, decision, reviewer=reviewer, note=note, expected=expected)
        return RedirectResponse(f"/#item-{item_id}", status_code=303)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
