"""The study web app (FastAPI, server-rendered): consent, profile, trials, thanks; admin behind a token.

Participants are known by a random token in an HttpOnly cookie, so a closed tab resumes where it
stopped (consenting again keeps them). Every form carries a CSRF token bound to the session it was served
to (the participant's, the admin's, or the browser's anonymous one); the admin signs in with the admin
token (form or ``Authorization: Bearer``), which is never put in a URL; wrong tokens slow a client down,
then lock it out; an admin session expires and can be signed out. The store's refusals map to HTTP
status codes here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    Trial,
)
from brainbench.study.templates import DEFAULT_CONSENT, FILL_IN, TEMPLATES, compare_versions, render_consent
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
    single_token,
    weak_secret,
)

PARTICIPANT_COOKIE = "bb_participant"
ADMIN_COOKIE = "bb_admin"
SESSION_COOKIE = (
    "bb_study_sid"  # the anonymous session the consent and sign-in forms are bound to (not the author app's)
)
STATUS_OF = {NoSession: 401, NotYourTrial: 400, AlreadyAnswered: 409, ProfileLocked: 409, InvalidSetting: 422}
FormId = Annotated[int, Form(ge=0, le=MAX_FORM_ID)]


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields, for routes that validate it themselves and re-render it on errors."""
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


PostedForm = Annotated[dict[str, str], Depends(form_fields)]
ParticipantCookie = Annotated[str | None, Cookie(alias=PARTICIPANT_COOKIE)]


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@dataclass(frozen=True)
class StudyContext:
    """What the study app's routes share: the store, the pages, the admin's sign-in, the consent text, the clock."""

    store: StudyStore
    page: Callable[..., Response]
    csrf: CsrfTokens
    admin: SignIn
    clock: Callable[[], float]
    secure_cookies: bool
    consent: str | None  # as given (None: the default text)
    consent_text: str
    consent_html: str
    weak_token: str | None  # why the admin token is weak, if it is

    def live_participant(self, token: str | None) -> int | None:
        """The participant with this session token, or None (no session, or one from another study)."""
        try:
            return self.store.participant_id(token)
        except NoSession:
            return None

    def require_admin(self, request: Request) -> None:
        self.admin.require(request, "admin pages need the admin token: sign in at /admin")


def create_app(
    store: StudyStore,
    admin_token: str,
    title: str = "Predict the result",
    consent: str | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    session_max_age_s: float = SESSION_MAX_AGE_S,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The app for one study kept in ``store``; ``admin_token`` opens the admin pages.

    ``consent``: the consent text (Markdown; the default says what to fill in). ``secure_cookies``: send
    cookies over HTTPS only (behind an HTTPS reverse proxy). ``throttle``: the limit on wrong admin tokens.
    ``session_max_age_s``: how long an admin sign-in lasts. ``clock``: the time (tests move it).
    """
    if not admin_token:
        raise StudyError("the admin token is empty: choose one (BRAINBENCH_ADMIN_TOKEN)")
    app = FastAPI(title="brainbench study", docs_url=None, redoc_url=None, openapi_url=None)
    add_security_headers(app)
    pages = Pages(TEMPLATES, title, CsrfTokens(store.secret_key, SESSION_COOKIE), secure_cookies)
    pages.add_error_pages(app)
    token_id = hashlib.sha256(admin_token.encode("utf-8", "surrogateescape")).hexdigest()
    admin = SignIn(
        single_token(admin_token, "admin"),
        derive_key(store.secret_key, f"admin:{token_id}"),  # a new admin token ends the old token's sessions
        ADMIN_COOKIE,
        throttle or LoginThrottle(),
        secure_cookies=secure_cookies,
        max_age_s=session_max_age_s,
        signed_out_at=lambda name: float(store.setting("admin_signed_out_at", "0")),
        sign_out=lambda name, when: store.put_setting("admin_signed_out_at", repr(when)),
        clock=clock,
    )
    consent_text = consent if consent is not None else DEFAULT_CONSENT
    ctx = StudyContext(
        store=store,
        page=pages.render,
        csrf=pages.csrf,
        admin=admin,
        clock=clock,
        secure_cookies=secure_cookies,
        consent=consent,
        consent_text=consent_text,
        consent_html=render_consent(consent_text),
        weak_token=weak_secret(admin_token),
    )

    @app.exception_handler(StudyError)
    async def refused(request: Request, error: StudyError) -> Response:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 400)
        return ctx.page("error.html", request, status=status, message=str(error), problems=[], back="/")

    add_participant_routes(app, ctx)
    add_trial_routes(app, ctx)
    add_admin_routes(app, ctx)
    add_export_routes(app, ctx)
    return app


def add_participant_routes(app: FastAPI, ctx: StudyContext) -> None:
    """Consent and profile: how a participant starts."""

    @app.get("/", response_class=HTMLResponse)
    def consent_page(request: Request, participant: ParticipantCookie = None) -> Response:
        if ctx.live_participant(participant) is not None:
            return redirect("/trial")  # an old cookie from another study starts again
        return ctx.page("consent.html", request, trials=ctx.store.trials_per_participant, consent=ctx.consent_html)

    @app.post("/consent")
    def give_consent(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        agree: Annotated[str | None, Form()] = None,
        participant: ParticipantCookie = None,
    ) -> Response:
        ctx.csrf.check(request, csrf_token)
        if agree != "yes":
            raise PageError("please tick the box to agree before taking part", 422)
        if ctx.live_participant(participant) is not None:
            return redirect("/trial")  # consented already (a second tab, the back button): keep their progress
        response = redirect("/profile")
        response.set_cookie(
            PARTICIPANT_COOKIE,
            ctx.store.add_participant(ctx.clock()),
            httponly=True,
            samesite="lax",
            secure=ctx.secure_cookies,
            max_age=30 * 24 * 3600,
        )
        return response

    @app.get("/profile", response_class=HTMLResponse)
    def profile(request: Request, participant: ParticipantCookie = None) -> Response:
        if ctx.store.profile_locked(ctx.store.participant_id(participant)):
            return redirect("/trial")
        return ctx.page(
            "profile.html", request, session=participant, positions=POSITIONS, sexes=SEXES, values={}, problems={}
        )

    @app.post("/profile")
    def save_profile(request: Request, form: PostedForm, participant: ParticipantCookie = None) -> Response:
        participant_id = ctx.store.participant_id(participant)
        ctx.csrf.check(request, form.get("csrf"), session=participant)
        entered, problems = read_form(Profile, form, PROFILE_HINTS)
        if entered is None:  # the form again, as filled in, saying what to fix
            return ctx.page(
                "profile.html",
                request,
                status=422,
                session=participant,
                positions=POSITIONS,
                sexes=SEXES,
                values=form,
                problems=problems,
            )
        ctx.store.save_profile(participant_id, entered)
        return redirect("/trial")


def add_trial_routes(app: FastAPI, ctx: StudyContext) -> None:
    """The trials, one page each, and the beacon of a trial left unanswered."""

    def trial_page(request: Request, participant: str | None, current: Trial, **context: object) -> Response:
        return ctx.page(
            "trial.html",
            request,
            session=participant,
            trial=current,
            texts=current.texts,
            comparison=compare_versions(*current.texts),
            **context,
        )

    @app.get("/trial", response_class=HTMLResponse)
    def trial(request: Request, participant: ParticipantCookie = None) -> Response:
        participant_id = ctx.store.participant_id(participant)
        if not ctx.store.has_profile(participant_id):
            return redirect("/profile")
        current = ctx.store.next_trial(participant_id, ctx.clock())
        if current is None:
            return redirect("/done")
        return trial_page(request, participant, current, values={}, problems={})

    @app.post("/trial")
    def answer(request: Request, form: PostedForm, participant: ParticipantCookie = None) -> Response:
        participant_id = ctx.store.participant_id(participant)
        ctx.csrf.check(request, form.get("csrf"), session=participant)
        entered, problems = read_form(Answer, form, ANSWER_HINTS)
        if entered is None:
            current = ctx.store.current_trial(participant_id)
            if current is None or current.view_id is None:
                return redirect("/trial")
            return trial_page(request, participant, current, status=422, values=form, problems=problems)
        ctx.store.submit(participant_id, entered, ctx.clock())
        return redirect("/trial")

    @app.post("/trial/leave", status_code=204)
    def leave(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        view_id: FormId,
        participant: ParticipantCookie = None,
    ) -> Response:
        """The trial page's beacon when it is left unanswered (closed, reloaded, navigated away)."""
        participant_id = ctx.store.participant_id(participant)
        ctx.csrf.check(request, csrf_token, session=participant)
        ctx.store.leave(participant_id, view_id, ctx.clock())
        return Response(status_code=204)

    @app.get("/done", response_class=HTMLResponse)
    def done(request: Request) -> Response:
        return ctx.page("done.html", request)


def add_admin_routes(app: FastAPI, ctx: StudyContext) -> None:
    """The admin pages behind the admin token."""

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request) -> Response:
        if ctx.admin.who(request) is None:
            return ctx.page("login.html", request, status=401)
        return ctx.page(
            "admin.html",
            request,
            session=ctx.admin.session(request),
            progress=ctx.store.progress(ctx.clock()),
            trials=ctx.store.trials_per_participant,
            dataset=ctx.store.dataset.name,
            database=ctx.store.display_url,
            consent_is_default=ctx.consent is None,
            consent_unfilled=ctx.consent is not None and FILL_IN in ctx.consent_text,
            weak_token=ctx.weak_token,
        )

    @app.post("/admin/login")
    def login(
        request: Request, csrf_token: Annotated[str, Form(alias="csrf")], token: Annotated[str, Form()]
    ) -> Response:
        ctx.csrf.check(request, csrf_token)
        return ctx.admin.sign_in(request, token, then="/admin")

    @app.post("/admin/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form(alias="csrf")]) -> Response:
        ctx.csrf.check(request, csrf_token, session=ctx.admin.session(request))
        return ctx.admin.sign_out(request, then="/admin")

    @app.post("/admin/setup")
    def setup(
        request: Request,
        csrf_token: Annotated[str, Form(alias="csrf")],
        trials: Annotated[int, Form(ge=1, le=MAX_FORM_ID)],
    ) -> Response:
        ctx.require_admin(request)
        ctx.csrf.check(request, csrf_token, session=ctx.admin.session(request) or None)
        ctx.store.set_trials_per_participant(trials)
        return redirect("/admin")


def add_export_routes(app: FastAPI, ctx: StudyContext) -> None:
    """The study's data as the paper's CSV files, for the admin."""

    def csv_download(text: str, name: str) -> Response:
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/admin/export/participant_data.csv")
    def export(request: Request) -> Response:
        ctx.require_admin(request)
        return csv_download(
            participant_data_csv(ctx.store.responses(), ctx.store.cases, ctx.store.dataset.source),
            "participant_data.csv",
        )

    @app.get("/admin/export/abstract_id_doi.csv")
    def export_ids(request: Request) -> Response:
        ctx.require_admin(request)
        return csv_download(abstract_ids_csv(ctx.store.dataset.cases), "abstract_id_doi.csv")

    @app.get("/admin/export/catch.csv")
    def export_catch(request: Request) -> Response:
        ctx.require_admin(request)
        return csv_download(catch_csv(ctx.store.responses(catch=True), ctx.store.catch_cases), "catch.csv")

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}
