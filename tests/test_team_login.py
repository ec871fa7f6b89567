"""Issue 15: sign-in attempts are limited per network address as well as per
name (crmflow.auth.sign_in's ``address``; the sign-in page passes Streamlit's
``st.context.ip_address``), with a test clock: one address that tries many
names is refused once it has MAX_ADDRESS_FAILURES recent failures, other
addresses and the server's own machine (no address) are not, a success does
not count, and the window frees the address again."""

from __future__ import annotations

import pytest

from crmflow import auth
from crmflow.errors import CrmflowError
from crmflow.i18n import t


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="right")
    auth.add_user(path, "li", "admin", password="li pw")
    return path


@pytest.fixture
def clock():
    return [1000.0]


def limits(clock, per_address: int = 4):
    """Per name 3 failures, per address ``per_address``, within 600 s of the test clock."""
    return {"attempts": auth.Attempts(limit=3, window=600, clock=lambda: clock[0]),
            "address_attempts": auth.Attempts(limit=per_address, window=600, clock=lambda: clock[0])}


def key_of(users, name: str, password: str, address: str | None, lim: dict) -> str:
    try:
        auth.sign_in(name, password, users, address=address, **lim)
        return "ok"
    except CrmflowError as exc:
        return exc.key


def test_one_address_trying_many_names_is_refused_after_the_limit(users, clock):
    lim = limits(clock)
    # four different names, one failure each: below every per-name limit
    for name in ("a", "b", "c", "wang"):
        assert key_of(users, name, "guess", "203.0.113.7", lim) == "auth_wrong"
        clock[0] += 1
    # the fifth try from that address is refused before any password is checked, even the right one
    assert key_of(users, "li", "li pw", "203.0.113.7", lim) == "auth_too_many_address"
    # another address, and a browser on the server's machine (no address), are not affected
    assert key_of(users, "li", "li pw", "198.51.100.2", lim) == "ok"
    assert key_of(users, "wang", "right", None, lim) == "ok"
    # once the first failure has left the window (600 s after it), the address may try again
    clock[0] = 1000.0 + 600
    assert key_of(users, "li", "li pw", "203.0.113.7", lim) == "ok"


def test_successes_do_not_use_up_the_address_limit(users, clock):
    lim = limits(clock, per_address=2)
    for _ in range(5):  # five colleagues behind one router sign in
        assert key_of(users, "wang", "right", "192.0.2.10", lim) == "ok"
    assert key_of(users, "wang", "oops", "192.0.2.10", lim) == "auth_wrong"
    assert key_of(users, "wang", "right", "192.0.2.10", lim) == "ok"
    assert key_of(users, "li", "no", "192.0.2.10", lim) == "auth_wrong"
    # two failures recorded: the limit is reached
    assert key_of(users, "li", "li pw", "192.0.2.10", lim) == "auth_too_many_address"


def test_the_per_name_limit_still_holds_for_a_name_tried_from_many_addresses(users, clock):
    lim = limits(clock, per_address=100)
    for n in range(3):
        assert key_of(users, "wang", "guess", f"198.51.100.{n}", lim) == "auth_wrong"
    assert key_of(users, "wang", "right", "198.51.100.99", lim) == "auth_too_many"


def test_withdraw_takes_back_only_the_latest_attempt(clock):
    attempts = auth.Attempts(limit=2, window=600, clock=lambda: clock[0])
    assert attempts.begin("x") == 0
    clock[0] += 10
    assert attempts.begin("x") == 0
    assert attempts.blocked_for("x") == pytest.approx(590)  # two recorded: blocked until the first leaves
    attempts.withdraw("x")
    assert attempts.blocked_for("x") == 0
    attempts.withdraw("x")
    assert len(attempts) == 0
    attempts.withdraw("x")  # nothing left to take back: no error
    assert len(attempts) == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_address_message_is_in_both_languages_and_says_when(lang):
    text = CrmflowError(key="auth_too_many_address", minutes=7).localized(lang)
    assert "7" in text and t("err_auth_too_many_address", lang) in text
    assert t("err_auth_too_many_address", lang) != "err_auth_too_many_address"


@pytest.mark.parametrize("address", [None, "203.0.113.9"])
def test_the_sign_in_page_passes_the_browsers_address(monkeypatch, tmp_path, address):
    """The page's form calls sign_in with st.context.ip_address (None on the
    loopback; AppTest has no connection, so a remote one is put in its place)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    users = tmp_path / "users.toml"
    auth.add_user(users, "wang", "manager", "Wang Fang", password="right")
    seen = []
    real = auth.sign_in

    def spy(name, password, path=None, attempts=auth.ATTEMPTS, **kw):
        seen.append(kw.get("address", "missing"))
        return real(name, password, path, auth.Attempts(), **kw)

    monkeypatch.setattr(auth, "sign_in", spy)
    monkeypatch.setenv("CRMFLOW_USERS", str(users))
    if address is not None:
        monkeypatch.setattr(type(st.context), "ip_address", property(lambda self: address))

    def page():
        import streamlit as st

        from crmflow.ui.login import require_user

        user = require_user("en")
        st.write(f"user={user.name}")

    at = AppTest.from_function(page, default_timeout=60).run()
    at.text_input(key="login:name").input("wang")
    at.text_input(key="login:password").input("right")
    at.button[0].click().run()
    assert seen == [address]
    assert any("user=wang" in m.value for m in at.markdown)
