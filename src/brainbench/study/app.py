"""The study web app (FastAPI, server-rendered): consent, profile, trials, thanks; admin behind a token.

Participants are known by a random token in an HttpOnly cookie, so a closed tab resumes where it
stopped. Every form carries a signed CSRF token that must equal its cookie; the admin signs in with
the admin token (form or ``Authorization: Bearer``), which is never put in a URL, and wrong tokens
slow a client down, then lock it out. The store's refusals map to HTTP status codes here.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Cookie, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from brainbench.study.export import abstract_ids_csv, catch_csv, participant_data_csv
from brainbench.study.forms import ANSWER_HINTS, POSITIONS, PROFILE_HINTS, SEXES, Answer, Profile, read_form
from brainbench.study.store import (
    AlreadyAnswered,
    InvalidSetting,
    NoSession,
    NotYourTrial,
    ProfileLocked,
    StudyError,
    StudyStore,
)
from brainbench.study.templates import DEFAULT_CONSENT, TEMPLATES, render_consent
from brainbench.web import CsrfTokens, LoginThrottle, PageError, Pages, SignIn, add_security_headers

PARTICIPANT_COOKIE = "bb_participant"
ADMIN_COOKIE = "bb_admin"
STATUS_OF = {NoSession: 401, NotYourTrial: 400, AlreadyAnswered: 409, ProfileLocked: 409, InvalidSetting: 422}


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields, for routes that validate it themselves and re-render it on errors."""
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


PostedForm = Annotated[dict[str, str], Depends(form_fields)]
ParticipantCookie = Annotated[str | None, Cookie(alias=PARTICIPANT_COOKIE)]


def create_app(
    store: StudyStore,
    admin_token: str,
    title: str = "Predict the result",
    consent: str | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The app for one study kept in ``store``; ``admin_token`` opens the admin pages.

    ``consent``: the consent text (Markdown; the default says what to fill in). ``secure_cookies``: send
    cookies over HTTPS only (behind an HTTPS reverse proxy). ``throttle``: the limit on wrong admin tokens.
    """
    app = FastAPI(title="brainbench study", docs_url=None, redoc_url=None, openapi_url=None)
    add_security_headers(app)
    pages = Pages(TEMPLATES, title, CsrfTokens(store.secret_key), secure_cookies)
    pages.add_error_pages(app)
    page, csrf = pages.render, pages.csrf
    admin = SignIn(admin_token, ADMIN_COOKIE, "study-admin", throttle or LoginThrottle(), secure_cookies)
    consent_html = render_consent(consent if consent is not None else DEFAULT_CONSENT)

    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(StudyError)
    async def refused(request: Request, error: StudyError) -> Response:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 400)
        return page("error.html", request, status=status, message=str(error), problems=[], back="/")

    # participants

    @app.get("/", response_class=HTMLResponse)
    def consent_page(request: Request, participant: ParticipantCookie = None) -> Response:
        if participant:
            try:
                store.participant_id(participant)
                return redirect("/trial")
            except NoSession:
                pass  # an old cookie from another study: start again
        return page("consent.html", request, trials=store.trials_per_participant, consent=consent_html)

    @app.post("/consent")
    def give_consent(
        request: Request, csrf_token: Annotated[str, Form(alias="csrf")], agree: Annotated[str | None, Form()] = None
    ) -> Response:
        csrf.check(request, csrf_token)
        if agree != "yes":
            raise PageError("please tick the box to agree before taking part", 422)
        response = redirect("/profile")
        response.set_cookie(
            PARTICIPANT_COOKIE,
            store.add_participant(),
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
            max_age=30 * 24 * 3600,
        )
        return response

    @app.get("/profile", response_class=HTMLResponse)
    def profile(request: Request, participant: ParticipantCookie = None) -> Response:
        if store.profile_locked(store.participant_id(participant)):
            return redirect("/trial")
        return page("profile.html", request, positions=POSITIONS, sexes=SEXES, values={}, problems={})

    @app.post("/profile")
    def save_profile(request: Request, form: PostedForm, participant: ParticipantCookie = None) -> Response:
        csrf.check(request, form.get("csrf"))
        participant_id = store.participant_id(participant)
        entered, problems = read_form(Profile, form, PROFILE_HINTS)
        if entered is None:  # the form again, as filled in, saying what to fix
            return page(
                "profile.html", request, status=422, positions=POSITIONS, sexes=SEXES, values=form, problems=problems
            )
        store.save_profile(participant_id, entered)
        return redirect("/trial")

    @app.get("/trial", response_class=HTMLResponse)
    def trial(request: Request, participant: ParticipantCookie = None) -> Response:
        participant_id = store.participant_id(participant)
        if not store.has_profile(participant_id):
            return redirect("/profile")
        current = store.next_trial(participant_id, time.time())
        if current is None:
            return redirect("/done")
        return page("trial.html", request, trial=current, texts=current.texts, values={}, problems={})

    @app.post("/trial")
    def answer(request: Request, form: PostedForm, participant: ParticipantCookie = None) -> Response:
        csrf.check(request, form.get("csrf"))
        participant_id = store.participant_id(participant)
        entered, problems = read_form(Answer, form, ANSWER_HINTS)
        if entered is None:
            current = store.current_trial(participant_id)
            if current is None or current.view_id is None:
                return redirect("/trial")
            return page(
                "trial.html", request, status=422, trial=current, texts=current.texts, values=form, problems=problems
            )
        store.submit(participant_id, entered, time.time())
        return redirect("/trial")

    @app.post("/trial/leave", status_code=204)
    def leave(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        view_id: Annotated[int, Form()],
        participant: ParticipantCookie = None,
    ) -> Response:
        """The trial page's beacon when it is left unanswered (closed, reloaded, navigated away)."""
        csrf.check(request, csrf_token)
        store.leave(store.participant_id(participant), view_id, time.time())
        return Response(status_code=204)

    @app.get("/done", response_class=HTMLResponse)
    def done(request: Request) -> Response:
        return page("done.html", request)

    # admin

    def require_admin(request: Request) -> None:
        admin.require(request, "admin pages need the admin token: sign in at /admin")

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request) -> Response:
        if admin.who(request) is None:
            return page("login.html", request, status=401)
        return page(
            "admin.html",
            request,
            progress=store.progress(),
            trials=store.trials_per_participant,
            dataset=store.dataset.name,
            database=store.display_url,
            consent_is_default=consent is None,
        )

    @app.post("/admin/login")
    def login(
        request: Request, csrf_token: Annotated[str, Form(alias="csrf")], token: Annotated[str, Form()]
    ) -> Response:
        csrf.check(request, csrf_token)
        return admin.sign_in(request, token, "admin", then="/admin")

    @app.post("/admin/setup")
    def setup(
        request: Request, csrf_token: Annotated[str, Form(alias="csrf")], trials: Annotated[int, Form()]
    ) -> Response:
        require_admin(request)
        csrf.check(request, csrf_token)
        store.set_trials_per_participant(trials)
        return redirect("/admin")

    def csv_download(text: str, name: str) -> Response:
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/admin/export/participant_data.csv")
    def export(request: Request) -> Response:
        require_admin(request)
        return csv_download(
            participant_data_csv(store.responses(), store.cases, store.dataset.source), "participant_data.csv"
        )

    @app.get("/admin/export/abstract_id_doi.csv")
    def export_ids(request: Request) -> Response:
        require_admin(request)
        return csv_download(abstract_ids_csv(store.dataset.cases), "abstract_id_doi.csv")

    @app.get("/admin/export/catch.csv")
    def export_catch(request: Request) -> Response:
        require_admin(request)
        return csv_download(catch_csv(store.responses(catch=True), store.catch_cases), "catch.csv")

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
