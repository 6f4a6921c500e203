"""The study web app (FastAPI, server-rendered): consent, profile, trials, thanks; admin behind a token.

Participants are known by a random token in an HttpOnly cookie, so a closed tab resumes where it
stopped. Every form carries a CSRF token checked against a cookie (double submit); the admin
signs in with the admin token (form or ``Authorization: Bearer``), which is never put in a URL.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Cookie, FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from brainbench.study.store import POSITIONS, SEXES, StudyError, StudyStore
from brainbench.study.templates import TEMPLATES
from brainbench.web import PageError, Pages, check_csrf, session_value, signed_in

PARTICIPANT_COOKIE = "bb_participant"
ADMIN_COOKIE = "bb_admin"


def create_app(store: StudyStore, admin_token: str, title: str = "Predict the result") -> FastAPI:
    """The app for one study kept in ``store``; ``admin_token`` opens the admin pages."""
    app = FastAPI(title="brainbench study", docs_url=None, redoc_url=None, openapi_url=None)
    page = Pages(TEMPLATES, title).render

    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(PageError)
    async def study_error(request: Request, error: PageError) -> Response:
        return page("error.html", request, status=error.status, message=str(error))

    # participants

    @app.get("/", response_class=HTMLResponse)
    def consent(request: Request, bb_participant: Annotated[str | None, Cookie()] = None) -> Response:
        if bb_participant:
            try:
                store.participant_id(bb_participant)
                return redirect("/trial")
            except StudyError:
                pass  # an old cookie from another study: start again
        return page("consent.html", request, trials=store.trials_per_participant)

    @app.post("/consent")
    def give_consent(request: Request, csrf: Annotated[str, Form()], agree: Annotated[str | None, Form()] = None) -> Response:
        check_csrf(request, csrf)
        if agree != "yes":
            raise StudyError("please tick the box to agree before taking part", 422)
        response = redirect("/profile")
        response.set_cookie(PARTICIPANT_COOKIE, store.add_participant(), httponly=True, samesite="lax", max_age=30 * 24 * 3600)
        return response

    @app.get("/profile", response_class=HTMLResponse)
    def profile(request: Request, bb_participant: Annotated[str | None, Cookie()] = None) -> Response:
        store.participant_id(bb_participant)
        return page("profile.html", request, positions=POSITIONS, sexes=SEXES)

    @app.post("/profile")
    def save_profile(
        request: Request,
        csrf: Annotated[str, Form()],
        age: Annotated[int, Form()],
        country: Annotated[str, Form(max_length=100)],
        position: Annotated[str, Form()],
        experience: Annotated[int, Form()],
        sex: Annotated[str, Form()],
        bb_participant: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        check_csrf(request, csrf)
        participant = store.participant_id(bb_participant)
        store.save_profile(participant, age=age, country=country, position=position, experience=experience, sex=sex)
        return redirect("/trial")

    @app.get("/trial", response_class=HTMLResponse)
    def trial(request: Request, bb_participant: Annotated[str | None, Cookie()] = None) -> Response:
        participant = store.participant_id(bb_participant)
        if not store.has_profile(participant):
            return redirect("/profile")
        current = store.next_trial(participant, time.time())
        if current is None:
            return redirect("/done")
        return page("trial.html", request, trial=current, texts=current.texts)

    @app.post("/trial")
    def answer(
        request: Request,
        csrf: Annotated[str, Form()],
        position: Annotated[int, Form()],
        item_id: Annotated[int, Form()],
        choice: Annotated[str, Form()],
        confidence: Annotated[int, Form()],
        expertise: Annotated[int, Form()],
        confidence_touched: Annotated[int, Form()] = 0,
        expertise_touched: Annotated[int, Form()] = 0,
        recognised: Annotated[str | None, Form()] = None,
        blurs: Annotated[int, Form()] = 0,
        bb_participant: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        check_csrf(request, csrf)
        participant = store.participant_id(bb_participant)
        store.submit(participant, position=position, item_id=item_id, choice=choice, confidence=confidence, expertise=expertise,
                     confidence_touched=bool(confidence_touched), expertise_touched=bool(expertise_touched),
                     recognised=recognised == "yes", blurs=blurs, clock=time.time())
        return redirect("/trial")

    @app.get("/done", response_class=HTMLResponse)
    def done(request: Request) -> Response:
        return page("done.html", request)

    # admin

    def is_admin(request: Request, authorization: str | None) -> bool:
        return signed_in(request, authorization, admin_token, ADMIN_COOKIE, "study-admin")

    def require_admin(request: Request, authorization: str | None) -> None:
        if not is_admin(request, authorization):
            raise StudyError("admin pages need the admin token: sign in at /admin", 401)

    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
        if not is_admin(request, authorization):
            return page("login.html", request, status=401)
        return page("admin.html", request, progress=store.progress(), trials=store.trials_per_participant,
                    dataset=store.dataset.name, database=store.display_url)

    @app.post("/admin/login")
    def login(request: Request, csrf: Annotated[str, Form()], token: Annotated[str, Form()]) -> Response:
        check_csrf(request, csrf)
        if not hmac.compare_digest(token, admin_token):
            raise StudyError("wrong admin token", 401)
        response = redirect("/admin")
        response.set_cookie(ADMIN_COOKIE, session_value(admin_token, "study-admin"), httponly=True, samesite="strict")
        return response

    @app.post("/admin/setup")
    def setup(request: Request, csrf: Annotated[str, Form()], trials: Annotated[int, Form()],
              authorization: Annotated[str | None, Header()] = None) -> Response:
        require_admin(request, authorization)
        check_csrf(request, csrf)
        store.set_trials_per_participant(trials)
        return redirect("/admin")

    @app.get("/admin/export/participant_data.csv")
    def export(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
        require_admin(request, authorization)
        return PlainTextResponse(store.export_participant_data(), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="participant_data.csv"'})

    @app.get("/admin/export/abstract_id_doi.csv")
    def export_ids(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
        require_admin(request, authorization)
        return PlainTextResponse(store.export_abstract_ids(), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="abstract_id_doi.csv"'})

    @app.get("/admin/export/catch.csv")
    def export_catch(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
        require_admin(request, authorization)
        return PlainTextResponse(store.export_catch(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="catch.csv"'})

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
