"""What the two web apps share: spreadsheet-safe CSV cells, byte-wise secret comparison, the sign-in throttle."""

from __future__ import annotations

import csv
import io

import pytest

from brainbench.web import LoginThrottle, PageError, csv_text, same_secret, spreadsheet_safe


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
