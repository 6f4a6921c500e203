"""The authoring page: experts write alterations of candidate abstracts and review the queue.

``/``             candidates to alter, and the queue (proposed, accepted, rejected), each item with its
                  review decisions (who, when, from, to, note) and a form to decide or change a decision
``/write/<n>``    candidate n: the abstract, and an editable copy in which the expert selects the result
                  words and types the altered wording; saved as ``[[original, altered]]`` after the checks
``/graded/<n>``   candidate n as a graded case: the number that states a result and a grid of values for it
Every page needs a reviewer's own token (``brainbench author add-reviewer NAME`` makes one; the sign-in
form sets a session cookie that expires and can be signed out, or ``Authorization: Bearer``): every
action is recorded under the token's owner. Wrong tokens slow a client down, then lock it out. Texts are
normalised and checked (``authoring.edits``), with the perplexity gap under ``reference`` when the
server has one; reviewers see every character outside ASCII marked and named.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from brainbench.authoring.edits import (
    ReferenceModel,
    check_alteration,
    describe_character,
    hidden_characters,
    normalise_text,
)
from brainbench.authoring.graded import check_graded
from brainbench.authoring.queue import (
    STATUSES,
    ReviewConflict,
    ReviewQueue,
    SelfAcceptance,
    UnknownItem,
    check_record,
    current_check,
    graded_text_problems,
    item_authors,
    match_known,
    needs_note,
    normalise_name,
)
from brainbench.data.cases import parse_combined
from brainbench.errors import InputError
from brainbench.web import (
    MAX_FORM_ID,
    SESSION_MAX_AGE_S,
    CsrfTokens,
    LoginThrottle,
    PageError,
    Pages,
    SignIn,
    add_security_headers,
    derive_key,
)

COOKIE = "bb_author"
SESSION_COOKIE = "bb_author_sid"  # the anonymous session the sign-in form is bound to (not the study app's)
PathId = Annotated[int, Path(ge=0, le=MAX_FORM_ID)]
MAX_TEXT_CHARS = 20_000  # an abstract has ~2,000 characters: a longer form is refused before any check runs
NEW_SUBFIELD = "__new"
STATUS_OF = {UnknownItem: 404, ReviewConflict: 409, SelfAcceptance: 403}
TEMPLATES = {
    "login.html": """{% extends "base.html" %}{% block heading %}Sign in{% endblock %}{% block body %}
<h1>Authoring: sign in</h1>
<form method="post" action="/login" class="card"><input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field"><label for="token">Your reviewer token</label><input id="token" name="token" type="password" required autocomplete="current-password"></div>
<p>Each reviewer has their own token: <code>brainbench author add-reviewer NAME</code> makes one.</p>
<button type="submit">Sign in</button></form>{% endblock %}""",
    "index.html": """{% extends "base.html" %}{% block heading %}Authoring{% endblock %}{% block body %}
<h1>New test cases</h1>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{ csrf }}"><p>Signed in as {{ reviewer }}.
<button class="link" type="submit">Sign out</button></p></form>
{% if not reference %}<div class="card notice" role="note"><p>No reference model: saved alterations are not checked for
their perplexity gap here; <code>brainbench author check</code> or <code>dataset build</code> checks them before they enter a test set.</p></div>{% endif %}
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
{% if item.combined %}<p>{{ item.combined|visible }}</p>{% else %}<p>{{ item.altered|visible }}</p>{% endif %}
{% set unusual = item|unusual_characters %}{% if unusual %}<p class="notice">Characters outside ASCII in its edits: {{ unusual|join(", ") }}</p>{% endif %}
{% if item.reasons %}<ul class="error">{% for reason in item.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}
{% if item.grid is none %}{% set check = item|current_check %}<p>{% if check is none %}Not checked with a reference model yet.{% elif check.passed %}Checked under {{ check.reference_model }}: Δ ln PPL {{ "%+.3f"|format(check.log_ppl_gap) }}.{% else %}<span class="problem">Failed its check under {{ check.reference_model }}: {{ check.reasons|join("; ") }}</span>{% endif %}</p>{% endif %}
{% if item.history %}<table aria-label="Decisions on #{{ item.id }}"><tr><th>when (UTC)</th><th>who</th><th>decision</th><th>note</th></tr>
{% for decision in item.history %}<tr><td>{{ decision.decided_at }}</td><td>{{ decision.reviewer }}</td>
<td>{{ decision.from_status }} → {{ decision.to_status }}{% if decision.edited %} (edited){% endif %}</td><td>{{ decision.note or "" }}</td></tr>{% endfor %}</table>{% endif %}
<form method="post" action="/review/{{ item.id }}"><input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="expected" value="{{ item.status }}">
{% set overturn = item|needs_note %}<div class="field"><label for="note-{{ item.id }}">Note on #{{ item.id }}{% if overturn %} (needed to change a decision){% endif %}</label>
<input id="note-{{ item.id }}" name="note" type="text" maxlength="2000"{% if overturn %} required{% endif %}></div>
{% if status != "accepted" %}{% if two_person_rule and reviewer in item|authors %}<p>You wrote or edited #{{ item.id }}: another reviewer accepts it.</p>{% else %}<button name="decision" value="accepted">Accept #{{ item.id }}</button>{% endif %}{% endif %}
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
    """``(subfield, problems)`` from the form: one of ``known``, or an explicitly new one (normalised, and
    spelled as a known one when it matches it ignoring case)."""
    if chosen == NEW_SUBFIELD and not new.strip():
        return "", ["choose a subfield from the list, or choose 'Another subfield' and write it"]
    subfield, problems = normalise_name(new if chosen == NEW_SUBFIELD else chosen, "subfield")
    if problems:
        if "empty" in problems[0]:
            return "", ["choose a subfield from the list, or choose 'Another subfield' and write it"]
        return "", problems
    if chosen != NEW_SUBFIELD and subfield not in known:
        return "", [f"{subfield!r} is not one of the subfields: choose 'Another subfield' to add it"]
    return match_known(subfield, known), []


def visible(text: str) -> Markup:
    """``text`` escaped, every character outside ASCII marked and named (invisible ones shown as their code)."""
    pieces = []
    for character in text:
        if ord(character) < 128:
            pieces.append(escape(character))
            continue
        shown = f"[U+{ord(character):04X}]" if hidden_characters(character) else character
        pieces.append(
            Markup('<span class="codepoint" title="{}">{}</span>').format(describe_character(character), shown)
        )
    return Markup("").join(pieces)


def unusual_characters(item: dict[str, Any]) -> list[str]:
    """The characters outside ASCII in an item's edits, named."""
    if not item.get("combined") or item.get("grid") is not None:
        return []
    edited = "".join(option for edit in parse_combined(item["combined"]).edits for option in edit.options)
    return [describe_character(ch) for ch in dict.fromkeys(edited) if ord(ch) >= 128]


@dataclass(frozen=True)
class AuthoringContext:
    """What the authoring app's routes share: the queue, the candidates, the pages and the reviewers' sign-in."""

    queue: ReviewQueue
    candidates: list[dict[str, Any]]
    subfields: tuple[str, ...]
    page: Callable[..., Response]
    csrf: CsrfTokens
    authors: SignIn
    reference: ReferenceModel | None
    two_person_rule: bool

    def require(self, request: Request) -> str:
        """The signed-in reviewer (else a sign-in page)."""
        return self.authors.require(request, "sign in with your reviewer token first")

    def known_subfields(self) -> list[str]:
        """The subfields offered: the test set's, the candidates' and the queue's, each spelt once."""
        named: dict[str, str] = {}
        for name in (
            *self.subfields,
            *(candidate.get("subfield") or "" for candidate in self.candidates),
            *(item["subfield"] for item in self.queue.items()),
        ):
            cleaned, problems = normalise_name(name, "subfield")
            if not problems:
                named.setdefault(cleaned.casefold(), cleaned)
        return sorted(named.values())

    def candidate_at(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.candidates):
            raise PageError(f"no candidate {index}", 404)
        return self.candidates[index]


def create_app(
    queue: ReviewQueue,
    candidates: list[dict[str, Any]],
    title: str = "brainbench authoring",
    subfields: Sequence[str] = (),
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    reference: ReferenceModel | None = None,
    two_person_rule: bool = True,
    session_max_age_s: float = SESSION_MAX_AGE_S,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The authoring app on ``queue``; reviewers sign in with their own tokens (``queue.add_reviewer``).

    ``subfields``: those of the test set being extended (the candidates' and the queue's are offered too);
    ``secure_cookies``: cookies over HTTPS only; ``reference``: the model of the perplexity-gap check, run
    on every saved and accepted alteration (None: checked later, by ``brainbench author check`` or
    ``dataset build``); ``two_person_rule``: nobody accepts an item they wrote or edited."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    add_security_headers(app)
    pages = Pages(TEMPLATES, title, CsrfTokens(queue.secret_key, SESSION_COOKIE), secure_cookies)
    pages.environment.filters |= {
        "visible": visible,
        "unusual_characters": unusual_characters,
        "current_check": current_check,
        "authors": item_authors,
        "needs_note": needs_note,
    }
    pages.add_error_pages(app)
    page, csrf = pages.render, pages.csrf
    authors = SignIn(
        queue.reviewer_for,
        derive_key(queue.secret_key, "authoring"),
        COOKIE,
        throttle or LoginThrottle(),
        secure_cookies=secure_cookies,
        max_age_s=session_max_age_s,
        signed_out_at=queue.signed_out_at,
        sign_out=queue.sign_out,
        clock=clock,
    )
    ctx = AuthoringContext(
        queue=queue,
        candidates=[{**candidate, "text": normalise_text(candidate["text"])} for candidate in candidates],
        subfields=tuple(subfields),
        page=page,
        csrf=csrf,
        authors=authors,
        reference=reference,
        two_person_rule=two_person_rule,
    )
    add_error_pages(app, ctx)
    add_session_routes(app, ctx)
    add_writing_routes(app, ctx)
    add_graded_routes(app, ctx)
    add_review_routes(app, ctx)
    return app


def add_error_pages(app: FastAPI, ctx: AuthoringContext) -> None:
    """Refusals shown as pages: sign in, or what went wrong."""

    @app.exception_handler(PageError)
    async def refused(request: Request, error: PageError) -> Response:
        if error.status == 401:
            return ctx.page("login.html", request, status=401)
        return ctx.page(
            "error.html", request, status=error.status, headers=error.headers, message=str(error), problems=[], back="/"
        )

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> Response:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 422)
        return ctx.page("error.html", request, status=status, message=str(error), problems=[], back="/")


def add_session_routes(app: FastAPI, ctx: AuthoringContext) -> None:
    """Signing in and out, and the index of candidates and the queue."""

    @app.post("/login")
    def login(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        token_given: Annotated[str, Form(alias="token", max_length=200)],
    ) -> Response:
        ctx.csrf.check(request, csrf_token)
        return ctx.authors.sign_in(request, token_given, then="/")

    @app.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form(alias="csrf")]) -> Response:
        ctx.csrf.check(request, csrf_token, session=ctx.authors.session(request) or None)
        return ctx.authors.sign_out(request, then="/")

    @app.get("/")
    def index(request: Request) -> Response:
        reviewer = ctx.require(request)
        items = ctx.queue.items()
        return ctx.page(
            "index.html",
            request,
            session=ctx.authors.session(request) or None,
            reviewer=reviewer,
            candidates=ctx.candidates,
            statuses=STATUSES,
            queue={status: [item for item in items if item["status"] == status] for status in STATUSES},
            reference=ctx.reference,
            two_person_rule=ctx.two_person_rule,
        )


def add_writing_routes(app: FastAPI, ctx: AuthoringContext) -> None:
    """Writing an alteration of a candidate abstract into the queue."""

    @app.get("/write/{index}")
    def write(request: Request, index: PathId) -> Response:
        ctx.require(request)
        candidate = ctx.candidate_at(index)
        known = ctx.known_subfields()
        return ctx.page(
            "write.html",
            request,
            session=ctx.authors.session(request) or None,
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
        index: PathId,
        csrf_token: Annotated[str, Form(alias="csrf")],
        altered: Annotated[str, Form(max_length=MAX_TEXT_CHARS)],
        subfield: Annotated[str, Form(max_length=200)] = "",
        new_subfield: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        author = ctx.require(request)
        ctx.csrf.check(request, csrf_token, session=ctx.authors.session(request) or None)
        candidate = ctx.candidate_at(index)
        known = ctx.known_subfields()
        chosen, reasons = choose_subfield(subfield, new_subfield, known)
        altered = normalise_text(altered)
        record = None
        if ctx.reference is None:
            reasons += check_alteration(candidate["text"], altered)
        elif not reasons:
            record = check_record(candidate["text"], altered, ctx.reference)
            reasons += record["reasons"]
        else:
            reasons += check_alteration(candidate["text"], altered)
        if reasons:
            return ctx.page(
                "write.html",
                request,
                status=422,
                session=ctx.authors.session(request) or None,
                index=index,
                candidate=candidate,
                altered=altered,
                reasons=reasons,
                subfields=known,
                chosen=subfield,
                new_subfield=new_subfield,
                max_chars=MAX_TEXT_CHARS,
            )
        ctx.queue.add({**candidate, "subfield": chosen}, altered, {"author": "human", "by": author}, [], checks=record)
        return RedirectResponse("/", status_code=303)


def add_graded_routes(app: FastAPI, ctx: AuthoringContext) -> None:
    """Writing a graded test case (a grid of possible results) into the queue."""

    @app.get("/graded/{index}")
    def graded(request: Request, index: PathId) -> Response:
        ctx.require(request)
        candidate = ctx.candidate_at(index)
        known = ctx.known_subfields()
        return ctx.page(
            "graded.html",
            request,
            session=ctx.authors.session(request) or None,
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
        index: PathId,
        csrf_token: Annotated[str, Form(alias="csrf")],
        number: Annotated[str, Form(max_length=100)],
        values: Annotated[str, Form(max_length=2000)],
        unit: Annotated[str, Form(max_length=50)] = "",
        subfield: Annotated[str, Form(max_length=200)] = "",
        new_subfield: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        author = ctx.require(request)
        ctx.csrf.check(request, csrf_token, session=ctx.authors.session(request) or None)
        candidate = ctx.candidate_at(index)
        known = ctx.known_subfields()
        chosen, reasons = choose_subfield(subfield, new_subfield, known)
        number, unit = normalise_text(number), normalise_text(unit)
        grid = [normalise_text(line) for line in values.splitlines() if line.strip()]
        reasons += check_graded(candidate["text"], number, grid, unit)[1]
        reasons += graded_text_problems(candidate["text"], number, grid, unit)
        if reasons:
            return ctx.page(
                "graded.html",
                request,
                status=422,
                session=ctx.authors.session(request) or None,
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
        ctx.queue.add_graded({**candidate, "subfield": chosen}, number, grid, unit, {"author": "human", "by": author})
        return RedirectResponse("/", status_code=303)


def add_review_routes(app: FastAPI, ctx: AuthoringContext) -> None:
    """Reviewers accept, edit or reject queued items."""

    @app.post("/review/{item_id}")
    def review(
        request: Request,
        item_id: PathId,
        csrf_token: Annotated[str, Form(alias="csrf")],
        decision: Annotated[str, Form(max_length=20)],
        expected: Annotated[str, Form(max_length=20)],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        reviewer = ctx.require(request)
        ctx.csrf.check(request, csrf_token, session=ctx.authors.session(request) or None)
        if decision not in ("accepted", "rejected"):
            raise PageError(f"{decision!r}: accept or reject", 422)
        ctx.queue.review(
            item_id,
            decision,
            reviewer=reviewer,
            note=note,
            expected=expected,
            reference=ctx.reference,
            two_person_rule=ctx.two_person_rule,
        )
        return RedirectResponse(f"/#item-{item_id}", status_code=303)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}
