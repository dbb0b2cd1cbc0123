"""LocalAuth's logins (refresh-token families), disabled users, passwords and scoped keys: a
refresh token rotates on use, a spent one presented again revokes its whole login, logout ends
it, disabling a user stops their tokens and keys at once, and all of it holds for a second
``LocalAuth`` on the same home (a restarted server, a replica)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from floww.adapters.local.identity import LocalAuth
from floww.adapters.memory import ManualClock
from floww.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from floww.domain.model import Principal
from floww.ports.identity import TokenSet

URI = "http://127.0.0.1:8000/device"
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _auth(home: Path, clock: ManualClock, **kwargs: Any) -> LocalAuth:
    return LocalAuth(home, clock, verification_uri=URI, **kwargs)


def _login(auth: LocalAuth, clock: ManualClock, user: Principal) -> TokenSet:
    device = auth.start_device("floww-cli")
    auth.approve_device(device.user_code, user)
    clock.advance(device.interval)
    return auth.poll_device(device.device_code)


def _refresh_token(tokens: TokenSet) -> str:
    assert tokens.refresh_token is not None
    return tokens.refresh_token


def test_a_refresh_token_rotates_and_a_spent_one_revokes_the_login(
    tmp_path: Path, clock: ManualClock
) -> None:
    auth = _auth(tmp_path, clock)
    user = auth.create_user("ada@example.com", PASSWORD)
    first = _login(auth, clock, user)
    second = auth.refresh(_refresh_token(first))
    assert auth.verify(second.access_token) == user
    third = auth.refresh(_refresh_token(second))
    with pytest.raises(Unauthenticated, match="used already"):
        auth.refresh(_refresh_token(first))  # a copy of a spent token comes back
    # the whole login is gone: the legitimate holder's newest tokens too
    for token in (third.access_token, second.access_token):
        with pytest.raises(Unauthenticated, match="login has ended"):
            auth.verify(token)
    with pytest.raises(Unauthenticated):
        auth.refresh(_refresh_token(third))
    # another login of the same user is untouched
    other = _login(auth, clock, user)
    assert auth.verify(other.access_token) == user


def test_logout_ends_the_login_only(tmp_path: Path, clock: ManualClock) -> None:
    auth = _auth(tmp_path, clock)
    user = auth.create_user("ada@example.com", PASSWORD)
    laptop, ci = _login(auth, clock, user), _login(auth, clock, user)
    auth.logout(laptop.access_token)
    with pytest.raises(Unauthenticated, match="login has ended"):
        auth.verify(laptop.access_token)
    with pytest.raises(Unauthenticated):
        auth.refresh(_refresh_token(laptop))
    with pytest.raises(Unauthenticated):
        auth.logout(laptop.access_token)
    assert auth.verify(ci.access_token) == user


def test_logins_survive_a_restart_and_so_do_their_ends(tmp_path: Path, clock: ManualClock) -> None:
    before = _auth(tmp_path, clock)
    user = before.create_user("ada@example.com", PASSWORD)
    kept, ended, copied = (_login(before, clock, user) for _ in range(3))
    before.logout(ended.access_token)
    spent = _refresh_token(copied)
    before.refresh(spent)

    after = _auth(tmp_path, clock)  # the server restarted
    assert after.verify(kept.access_token) == user
    assert after.verify(after.refresh(_refresh_token(kept)).access_token) == user
    with pytest.raises(Unauthenticated):
        after.verify(ended.access_token)
    with pytest.raises(Unauthenticated, match="used already"):
        after.refresh(spent)


def test_a_disabled_user_is_refused_at_once(tmp_path: Path, clock: ManualClock) -> None:
    auth = _auth(tmp_path, clock)
    user = auth.create_user("ada@example.com", PASSWORD)
    tokens = _login(auth, clock, user)
    key, _ = auth.create_api_key(user, "ns_1", "ci", "read")
    assert auth.verify(key).scopes == ("read",)
    account = auth.set_disabled(user.id, True)
    assert account.disabled
    elsewhere = _auth(tmp_path, clock)  # another replica on the same home
    for verifier in (auth, elsewhere):
        with pytest.raises(Unauthenticated):
            verifier.verify(tokens.access_token)
        with pytest.raises(Unauthenticated, match="disabled"):
            verifier.verify(key)
        with pytest.raises(Unauthenticated):
            verifier.refresh(_refresh_token(tokens))
        with pytest.raises(Unauthenticated, match="disabled"):
            verifier.check_password("ada@example.com", PASSWORD)
    auth.set_disabled(user.id, False)
    assert auth.verify(key).id == user.id
    with pytest.raises(Unauthenticated):  # disabling ended the logins for good
        auth.verify(tokens.access_token)
    with pytest.raises(NotFound):
        auth.set_disabled("user_ghost", True)


def test_passwords_change_and_accounts_are_listed(tmp_path: Path, clock: ManualClock) -> None:
    auth = _auth(tmp_path, clock)
    admin = auth.add_user("root@example.com", PASSWORD, admin=True)
    ada = auth.add_user("Ada@Example.com", PASSWORD)
    with pytest.raises(Conflict):
        auth.add_user("ada@example.com", PASSWORD)
    with pytest.raises(InvalidInput):
        auth.add_user("not-an-email", PASSWORD)
    assert [a.email for a in auth.list_accounts()] == ["ada@example.com", "root@example.com"]
    assert auth.get_account(admin.id).admin and not auth.get_account(ada.id).admin
    assert auth.find_account("ADA@example.com") == ada
    with pytest.raises(Unauthenticated):
        auth.change_password(ada.id, "wrong password", "a new password")
    with pytest.raises(InvalidInput):
        auth.change_password(ada.id, PASSWORD, "short")
    auth.change_password(ada.id, PASSWORD, "a new password")
    assert auth.check_password("ada@example.com", "a new password").id == ada.id
    with pytest.raises(Unauthenticated):
        auth.check_password("ada@example.com", PASSWORD)


def test_the_accounts_file_keeps_no_refresh_token(tmp_path: Path, clock: ManualClock) -> None:
    auth = _auth(tmp_path, clock)
    tokens = _login(auth, clock, auth.create_user("ada@example.com", PASSWORD))
    path = tmp_path / "auth" / "accounts.json"
    text = path.read_text()
    gen = json.loads(base64.urlsafe_b64decode(_refresh_token(tokens).split(".")[1] + "=="))["gen"]
    assert gen not in text and _refresh_token(tokens) not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ended_logins_are_pruned_once_expired(tmp_path: Path, clock: ManualClock) -> None:
    auth = _auth(tmp_path, clock, refresh_ttl=600)
    user = auth.create_user("ada@example.com", PASSWORD)
    for _ in range(3):
        _login(auth, clock, user)
    clock.advance(601)
    _login(auth, clock, user)
    sessions = json.loads((tmp_path / "auth" / "accounts.json").read_text())["sessions"]
    assert len(sessions) == 1
