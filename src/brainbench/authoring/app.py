"""The authoring page: experts write alterations of candidate abstracts and review the queue.

``/``             candidates to alter, and the queue (proposed, accepted, rejected) with review forms
``/write/<n>``    candidate n: the abstract, and an editable copy in which the expert selects the result
                  words and types the altered wording; saved as ``[[original, altered]]`` after the checks
Every page needs the authoring token (a sign-in form sets a cookie; or ``Authorization: Bearer``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import RedirectResponse, Response

from brainbench.authoring.edits import check_alteration
from brainbench.authoring.queue import ReviewQueue
from brainbench.errors import InputError
from brainbench.web import PageError, Pages, check_csrf, session_value, signed_in

COOKIE = "bb_author"
TEMPLATES = {
    "error.html": """{% extends "base.html" %}{% block heading %}Problem{% endblock %}{% block body %}
<h1>Something needs your attention</h1><div class="card error" role="alert"><p>{{ message }}</p></div><p><a href="/">Back</a></p>
{% endblock %}""",
    "login.html": """{% extends "base.html" %}{% block heading %}Sign in{% endblock %}{% block body %}
<h1>Authoring: sign in</h1>
<form method="post" action="/login" class="card"><input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field"><label for="token">Authoring token</label><input id="token" name="token" type="password" required></div>
<button type="submit">Sign in</button></form>{% endblock %}""",
    "index.html": """{% extends "base.html" %}{% block heading %}Authoring{% endblock %}{% block body %}
<h1>New test cases</h1>
<div class="card"><h2>Candidates</h2>
{% if candidates %}<table><tr><th>#</th><th>journal</th><th>DOI</th><th></th></tr>
{% for candidate in candidates %}<tr><td>{{ loop.index0 }}</td><td>{{ candidate.journal }}</td><td>{{ candidate.doi }}</td>
<td><a href="/write/{{ loop.index0 }}">Write an alteration</a></td></tr>{% endfor %}</table>
{% else %}<p>No candidate file: start with <code>brainbench author serve --candidates FILE</code>.</p>{% endif %}</div>
{% for status in ["proposed", "accepted", "rejected"] %}
<div class="card"><h2>{{ status|capitalize }} ({{ queue[status]|length }})</h2>
{% for item in queue[status] %}<div class="card" id="item-{{ item.id }}">
<p><strong>#{{ item.id }}</strong> {{ item.doi or "" }} · {{ item.provenance.get("author", item.provenance.get("model", "")) }}</p>
{% if item.combined %}<p>{{ item.combined }}</p>{% else %}<p>{{ item.altered }}</p>{% endif %}
{% if item.reasons %}<ul class="error">{% for reason in item.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}
{% if status == "proposed" %}<form method="post" action="/review/{{ item.id }}"><input type="hidden" name="csrf" value="{{ csrf }}">
<button name="decision" value="accepted">Accept #{{ item.id }}</button> <button class="secondary" name="decision" value="rejected">Reject #{{ item.id }}</button></form>{% endif %}
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
<textarea id="altered" name="altered" required>{{ altered }}</textarea></div>
<div class="field"><label for="subfield">Subfield</label><input id="subfield" name="subfield" type="text" value="{{ candidate.subfield or '' }}" required></div>
<button type="submit">Save for review</button></form>
{% endblock %}""",
}


def create_app(queue: ReviewQueue, token: str, candidates: list[dict[str, Any]], title: str = "brainbench authoring") -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    page = Pages(TEMPLATES, title).render

    def require(request: Request, authorization: str | None) -> None:
        if not signed_in(request, authorization, token, COOKIE, "authoring"):
            raise PageError("sign in with the authoring token first", 401)

    @app.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> Response:
        if error.status == 401:
            return page("login.html", request, status=401)
        return page("error.html", request, status=error.status, message=str(error))

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> Response:
        return page("error.html", request, status=422, message=str(error))

    @app.post("/login")
    def login(request: Request, csrf: Annotated[str, Form()], token_given: Annotated[str, Form(alias="token")]) -> Response:
        check_csrf(request, csrf)
        if token_given != token:
            raise PageError("wrong authoring token", 403)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, session_value(token, "authoring"), httponly=True, samesite="strict")
        return response

    @app.get("/")
    def index(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
        require(request, authorization)
        items = queue.items()
        return page("index.html", request, candidates=candidates, queue={status: [i for i in items if i["status"] == status] for status in ("proposed", "accepted", "rejected")})

    def candidate_at(index: int) -> dict[str, Any]:
        if not 0 <= index < len(candidates):
            raise PageError(f"no candidate {index}", 404)
        return candidates[index]

    @app.get("/write/{index}")
    def write(request: Request, index: int, authorization: Annotated[str | None, Header()] = None) -> Response:
        require(request, authorization)
        candidate = candidate_at(index)
        return page("write.html", request, index=index, candidate=candidate, altered=candidate["text"], reasons=[])

    @app.post("/write/{index}")
    def save(request: Request, index: int, csrf: Annotated[str, Form()], altered: Annotated[str, Form()], subfield: Annotated[str, Form(max_length=200)],
             authorization: Annotated[str | None, Header()] = None) -> Response:
        require(request, authorization)
        check_csrf(request, csrf)
        candidate = {**candidate_at(index), "subfield": subfield.strip()}
        altered = " ".join(altered.split())
        reasons = check_alteration(candidate["text"], altered)
        if reasons:
            return page("write.html", request, status=422, index=index, candidate=candidate, altered=altered, reasons=reasons)
        queue.add(candidate, altered, {"author": "human"}, [])
        return RedirectResponse("/", status_code=303)

    @app.post("/review/{item_id}")
    def review(request: Request, item_id: int, csrf: Annotated[str, Form()], decision: Annotated[str, Form()],
               authorization: Annotated[str | None, Header()] = None) -> Response:
        require(request, authorization)
        check_csrf(request, csrf)
        queue.review(item_id, decision)
        return RedirectResponse(f"/#item-{item_id}", status_code=303)

    return app
