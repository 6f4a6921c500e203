"""What the two web apps share: spreadsheet-safe CSV cells, byte-wise secret comparison, the sign-in throttle."""

from __future__ import annotations

import csv
import io

import pytest

from brainbench.web import LoginThrottle, PageError, csv_text, same_secret, spreadsheet_safe, weak_secret


@pytest.mark.parametrize("cell", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1"])
def test_cells_that_start_like_a_formula_get_an_apostrophe(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


def test_other_cells_are_left_alone() -> None:
    assert [spreadsheet_safe(value) for value in ("Portugal", "a=b", "", -1, 2.5, None)] == [
        "Portugal",
        "a=b",
        "",
        -1,
        2.5,
        None,
    ]
    text = csv_text(["country", "n"], [["=1+1", -3], ['say "hi", then go', 4]])
    assert list(csv.reader(io.StringIO(text))) == [["country", "n"], ["'=1+1", "-3"], ['say "hi", then go', "4"]]
    assert csv_text(["a", "b"], [["x;y", "@z"]], delimiter=";") == 'a;b\n"x;y";\'@z\n'


def test_secrets_are_compared_as_utf8_bytes() -> None:
    assert same_secret("clé", "clé") and same_secret("clé".encode(), "clé")
    assert not same_secret("é", "token") and not same_secret("cle", "clé") and not same_secret("", "x")


def test_the_throttle_forgets_a_client_after_a_quiet_lockout_period() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, lockout_s=100, clock=lambda: now[0])
    for _ in range(3):
        throttle.check("a")
        throttle.failed("a")
        now[0] += 5
    with pytest.raises(PageError, match="locked out; try again in 95 s") as refused:
        throttle.check("a")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "95"}
    now[0] += 95
    throttle.check("a")  # the lockout is over, but the count stands: one more failure locks out again
    throttle.failed("a")
    with pytest.raises(PageError, match="locked out"):
        throttle.check("a")
    now[0] += 100 + 100 + 1  # the lockout, then a quiet lockout period
    throttle.check("a")
    throttle.failed("a")
    with pytest.raises(PageError, match="a wrong token: wait; try again in 1 s"):
        throttle.check("a")  # counted from one again


def test_the_throttle_remembers_a_bounded_number_of_clients() -> None:
    """60,000 addresses with one wrong token each once made every check walk them all (admin requests 10x slower):
    the throttle keeps at most max_clients, and forgets the quiet ones oldest first."""
    now = [0.0]
    throttle = LoginThrottle(lockout_s=100, clock=lambda: now[0], max_clients=1000)
    for number in range(60_000):
        throttle.failed(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}")
    assert throttle.remembered == 1000  # the most recent thousand
    with pytest.raises(PageError):
        throttle.check("10.0.234.95")  # the last one still waits
    throttle.check("10.0.0.1")  # an early one was forgotten
    now[0] += 1 + 100 + 1
    throttle.check("anyone")
    assert throttle.remembered == 0  # all quiet for a lockout period: forgotten


def test_weak_tokens_are_named() -> None:
    assert "16" in (weak_secret("changeme") or "")
    assert "different characters" in (weak_secret("ab" * 12) or "")
    assert weak_secret("k3v9-QpZ2_xTmB7wLr4s") is None
