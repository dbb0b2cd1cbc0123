"""LocalAuth and LocalPlatformTokens beyond their contracts: key files, production mode, token
purposes, accounts, API keys, refresh tokens and what never leaks. The contracts themselves run
through ``tests/contracts/factories_local_auth.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.local.accounts import AccountStore
from floww.adapters.local.identity import LocalAuth
from floww.adapters.local.keys import KEY_PURPOSES, KeyStore
from floww.adapters.local.platform_tokens import LocalPlatformTokens
from floww.adapters.memory import ManualClock
from floww.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from floww.domain.model import Principal

URI = "http://127.0.0.1:8000/device"
GOOD_KEY = "5a" * 8 + "c3" * 8 + "91" * 8 + "e7" * 8


def make_auth(home: Path, clock: ManualClock | None = None, **kwargs: Any) -> LocalAuth:
    return LocalAuth(home, clock or ManualClock(), verification_uri=URI, **kwargs)


def make_tokens(home: Path, clock: ManualClock | None = None, **kwargs: Any) -> LocalPlatformTokens:
    return LocalPlatformTokens(home, clock or ManualClock(), **kwargs)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def auth(tmp_path: Path, clock: ManualClock) -> LocalAuth:
    return make_auth(tmp_path, clock)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def _with_parts(token: str, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """The token with its header replaced and/or claims changed, signature kept."""
    head, payload, signature = token.split(".")
    new_head = _b64(json.dumps(header).encode()) if header is not None else head
    body = {**_unb64(payload), **claims}
    return f"{new_head}.{_b64(json.dumps(body).encode())}.{signature}"


def _approved_tokens(auth: LocalAuth, clock: ManualClock, user: Principal) -> Any:
    device = auth.start_device("floww-cli")
    auth.approve_device(device.user_code, user)
    clock.advance(device.interval)
    return auth.poll_device(device.device_code)


# key files ------------------------------------------------------------------------------


def test_key_files_are_private_separate_and_hex(tmp_path: Path) -> None:
    make_auth(tmp_path)
    make_tokens(tmp_path)
    keys_dir = tmp_path / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    contents = set()
    for purpose in ("access", "refresh", "execution", "registry"):
        path = keys_dir / f"{purpose}.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert len(bytes.fromhex(text.strip())) == 32
        contents.add(text)
    assert len(contents) == 4
    assert not list(keys_dir.glob("*.tmp"))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        stores = list(pool.map(lambda _: KeyStore(tmp_path, purposes=["access"]), range(16)))
    assert len({store.key("access") for store in stores}) == 1
    assert stores[0].key("access") == bytes.fromhex((tmp_path / "keys" / "access.key").read_text())


def test_tokens_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    before = make_auth(tmp_path, clock)
    user = before.create_user("ada@example.com", "correct horse")
    token = before.issue_token(user)
    execution = make_tokens(tmp_path, clock).issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    key_before = (tmp_path / "keys" / "access.key").read_text()

    after = make_auth(tmp_path, clock)
    assert (tmp_path / "keys" / "access.key").read_text() == key_before
    assert after.verify(token) == user
    after_execution = make_tokens(tmp_path, clock).verify(execution)
    assert after_execution is not None and after_execution.execution_id == "ex_1"
    assert after.check_password("ada@example.com", "correct horse").id == user.id
    assert after.create_user("ada@example.com").id == user.id


def test_another_home_does_not_accept_the_tokens(tmp_path: Path) -> None:
    token = make_auth(tmp_path / "a").issue_token(Principal(id="user_1", email="a@b.c"))
    with pytest.raises(Unauthenticated, match="signature"):
        make_auth(tmp_path / "b").verify(token)


def test_production_mode_refuses_missing_keys_and_invents_none(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        make_auth(tmp_path, production=True)
    message = str(info.value)
    assert "production mode" in message and "is missing" in message
    assert str(tmp_path / "keys") in message and "run without production mode" in message
    assert not (tmp_path / "keys").exists()


def test_production_mode_starts_with_keys_made_before(tmp_path: Path) -> None:
    token = make_auth(tmp_path).issue_token(Principal(id="user_1"))
    assert make_auth(tmp_path, production=True).verify(token).id == "user_1"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "is missing"),
        ("\n", "is missing"),
        ("changeme\n", "well-known default"),
        ("CHANGEME", "well-known default"),
        ("00" * 32 + "\n", "well-known default"),
        ("ab" * 16, "too short"),
        ("not hex at all, but long enough to be a key of thirty-two bytes", "hex digits"),
    ],
)
def test_production_mode_refuses_weak_keys(tmp_path: Path, content: str, reason: str) -> None:
    make_tokens(tmp_path)
    path = tmp_path / "keys" / "execution.key"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=reason) as info:
        make_tokens(tmp_path, production=True)
    assert str(path) in str(info.value)
    assert path.read_text() == content


def test_an_unusable_key_file_is_never_overwritten(tmp_path: Path) -> None:
    make_auth(tmp_path)
    path = tmp_path / "keys" / "access.key"
    path.write_text("changeme")
    with pytest.raises(InvalidInput, match="well-known default"):
        make_auth(tmp_path)
    assert path.read_text() == "changeme"


def test_a_key_file_written_by_an_operator_is_used(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    for purpose in KEY_PURPOSES:
        (tmp_path / "keys" / f"{purpose}.key").write_text(GOOD_KEY + "\n")
    store = KeyStore(tmp_path, production=True)
    assert store.key("secrets") == bytes.fromhex(GOOD_KEY)
    assert GOOD_KEY not in repr(store)
    with pytest.raises(InvalidInput):
        KeyStore(tmp_path, purposes=["bogus"])


# token purposes -------------------------------------------------------------------------


def test_each_token_kind_verifies_to_its_principal(auth: LocalAuth, tmp_path: Path) -> None:
    user = auth.create_user("Ada@Example.com")
    assert auth.verify(auth.issue_token(user)) == Principal(
        id=user.id, kind="user", email="ada@example.com"
    )
    tokens = make_tokens(tmp_path)
    registry = tokens.verify(
        tokens.issue_registry_token(namespace_id="ns_1", repository="floww/ns_1", ttl_seconds=60)
    )
    assert registry is not None
    assert tokens.verify(auth.issue_token(user)) is None
    assert (registry.kind, registry.namespace_id, registry.scopes) == (
        "registry",
        "ns_1",
        ("push:floww/ns_1",),
    )


def test_an_execution_token_cannot_pass_as_an_access_token(auth: LocalAuth, tmp_path: Path) -> None:
    token = make_tokens(tmp_path).issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    relabelled = _with_parts(
        token, header={"alg": "HS256", "typ": "JWT", "kid": "access"}, typ="access", sub="u"
    )
    with pytest.raises(Unauthenticated, match="signature"):
        auth.verify(relabelled)
    with pytest.raises(Unauthenticated):
        auth.verify(token)
    with pytest.raises(Unauthenticated):
        auth.refresh(token)


def _signed(home: Path, purpose: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed by hand with the key file of ``purpose``."""
    key = bytes.fromhex((home / "keys" / f"{purpose}.key").read_text())
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.digest(key, signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(mac)}"


def test_each_purpose_has_its_own_key(auth: LocalAuth, tmp_path: Path) -> None:
    make_tokens(tmp_path)
    header = {"alg": "HS256", "typ": "JWT", "kid": "access"}
    claims = {"typ": "access", "sub": "user_1", "exp": 2**40}
    assert auth.verify(_signed(tmp_path, "access", header, claims)).id == "user_1"
    for other in ("execution", "registry", "refresh"):
        with pytest.raises(Unauthenticated, match="signature"):
            auth.verify(_signed(tmp_path, other, header, claims))
    # a payload whose type disagrees with its (correctly signed) header is refused too
    with pytest.raises(Unauthenticated):
        auth.verify(_signed(tmp_path, "access", header, {**claims, "typ": "execution"}))


def test_refresh_tokens_are_not_bearer_tokens(auth: LocalAuth, clock: ManualClock) -> None:
    tokens = _approved_tokens(auth, clock, auth.create_user("ada@example.com"))
    assert tokens.refresh_token is not None
    with pytest.raises(Unauthenticated, match="not accepted"):
        auth.verify(tokens.refresh_token)
    with pytest.raises(Unauthenticated, match="not accepted"):
        auth.refresh(tokens.access_token)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_tampered_token_is_rejected(auth: LocalAuth, part: int) -> None:
    token = auth.issue_token(Principal(id="user_1", email="a@b.c"))
    pieces = token.split(".")
    piece = pieces[part]
    pieces[part] = piece[:-1] + ("A" if piece[-1] != "A" else "B")
    with pytest.raises(Unauthenticated):
        auth.verify(".".join(pieces))


def test_claims_cannot_be_changed_under_a_valid_signature(auth: LocalAuth) -> None:
    token = auth.issue_token(Principal(id="user_1"))
    with pytest.raises(Unauthenticated, match="signature"):
        auth.verify(_with_parts(token, sub="user_admin"))
    with pytest.raises(Unauthenticated, match="signature"):
        auth.verify(_with_parts(token, exp=2**40))


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        "...",
        "a b.c.d",
        "x" * 9000,
        f"{_b64(b'{}')}.{_b64(b'{}')}.{_b64(b'x')}",
        f"{_b64(b'[1]')}.{_b64(b'{}')}.{_b64(b'x')}",
        f"{_b64(json.dumps({'alg': 'none', 'kid': 'access'}).encode())}.{_b64(b'{}')}.",
        f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'nope'}).encode())}.{_b64(b'{}')}.abc",
    ],
)
def test_malformed_tokens_are_unauthenticated(auth: LocalAuth, token: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify(token)


def test_an_unsigned_token_with_valid_claims_is_refused(
    auth: LocalAuth, clock: ManualClock
) -> None:
    """``alg=none`` with claims a real access token would carry, built by PyJWT itself."""
    import jwt

    now = int(clock.now().timestamp())
    claims = {"sub": "user_1", "typ": "access", "iat": now, "exp": now + 60, "jti": "x"}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "access"})
    with pytest.raises(Unauthenticated, match="algorithm"):
        auth.verify(unsigned)
    hs512 = jwt.encode(claims, "k" * 64, algorithm="HS512", headers={"kid": "access"})
    with pytest.raises(Unauthenticated, match="algorithm"):
        auth.verify(hs512)


def test_access_tokens_expire(auth: LocalAuth, clock: ManualClock) -> None:
    token = auth.issue_token(Principal(id="user_1"), ttl_seconds=30)
    clock.advance(29)
    assert auth.verify(token).id == "user_1"
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.verify(token)


def test_bad_issue_requests_are_invalid_input(auth: LocalAuth, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        auth.issue_token(Principal(id="user_1"), ttl_seconds=0)
    with pytest.raises(InvalidInput):
        auth.issue_token(Principal(id="ex", kind="execution"))
    with pytest.raises(InvalidInput):
        make_tokens(tmp_path).issue_execution_token(
            namespace_id="", workflow_id="wf", execution_id="ex", ttl_seconds=60
        )


@pytest.fixture(scope="module")
def shared_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAuth]:
    yield make_auth(tmp_path_factory.mktemp("home"))


@given(user_id=st.text(min_size=1), email=st.none() | st.text())
def test_user_token_round_trip(shared_auth: LocalAuth, user_id: str, email: str | None) -> None:
    principal = Principal(id=user_id, kind="user", email=email)
    assert shared_auth.verify(shared_auth.issue_token(principal)) == principal


def test_odd_text_round_trips(auth: LocalAuth) -> None:
    principal = Principal(id="user_\ud800", email="\u00e5da@\u00e9xample.com")
    assert auth.verify(auth.issue_token(principal)) == principal


@pytest.fixture(scope="module")
def shared_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatformTokens]:
    yield make_tokens(tmp_path_factory.mktemp("home"))


@given(ids=st.tuples(st.text(min_size=1), st.text(min_size=1), st.text(min_size=1)))
def test_execution_token_round_trip(
    shared_tokens: LocalPlatformTokens, ids: tuple[str, str, str]
) -> None:
    ns, wf, ex = ids
    token = shared_tokens.issue_execution_token(
        namespace_id=ns, workflow_id=wf, execution_id=ex, ttl_seconds=60
    )
    principal = shared_tokens.verify(token)
    assert principal is not None
    assert (principal.kind, principal.namespace_id, principal.workflow_id) == ("execution", ns, wf)
    assert principal.execution_id == ex


# accounts -------------------------------------------------------------------------------


def test_passwords(auth: LocalAuth, tmp_path: Path) -> None:
    user = auth.create_user("ada@example.com", "correct horse")
    assert auth.check_password("ADA@example.com ", "correct horse") == user
    for email, password in [
        ("ada@example.com", "wrong horse"),
        ("ada@example.com", ""),
        ("bob@example.com", "correct horse"),
        ("not an email", "correct horse"),
    ]:
        with pytest.raises(Unauthenticated, match="wrong email or password"):
            auth.check_password(email, password)
    passwordless = auth.create_user("bob@example.com")
    with pytest.raises(Unauthenticated):
        auth.check_password(passwordless.email or "", "anything at all")
    accounts = tmp_path / "auth" / "accounts.json"
    assert "correct horse" not in accounts.read_text()
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600


def test_user_ids_are_stable_and_emails_checked(auth: LocalAuth) -> None:
    assert not auth.has_users()
    first = auth.create_user("ada@example.com", "correct horse")
    assert auth.has_users()
    assert auth.create_user("ADA@example.com").id == first.id
    assert auth.create_user("bob@example.com").id != first.id
    with pytest.raises(Conflict):
        auth.create_user("ada@example.com", "another password")
    with pytest.raises(InvalidInput, match="8 characters"):
        auth.create_user("carol@example.com", "short")
    for email in ("", "ada", "@example.com", "ada@", "a b@example.com", "a@b@c"):
        with pytest.raises(InvalidInput, match="not an email"):
            auth.create_user(email)


def test_concurrent_writers_lose_no_account(tmp_path: Path) -> None:
    # two instances on one home stand in for two server processes: only the file lock
    # keeps their read-modify-write cycles apart
    first, second = make_auth(tmp_path), make_auth(tmp_path)
    emails = [f"user{i}@example.com" for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(
            pool.map(lambda i: (first, second)[i % 2].create_user(emails[i]), range(len(emails)))
        )
    reloaded = make_auth(tmp_path)
    assert [reloaded.create_user(email).id for email in emails] == [user.id for user in made]
    assert len(json.loads((tmp_path / "auth" / "accounts.json").read_text())["users"]) == 24


def _set_mtime(path: Path, seconds_from_now: float) -> None:
    at = time.time_ns() + int(seconds_from_now * 1e9)
    os.utime(path, ns=(at, at))


def test_a_settled_accounts_file_is_parsed_once_for_many_reads(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = AccountStore(tmp_path, clock)
    ada = store.create_user("ada@example.com")
    key, _ = store.create_api_key(ada.id, "ns_1", "ci")
    _set_mtime(store.path, -10)
    before = store.loads
    for _ in range(5):
        assert store.verify_api_key(key).id == ada.id
        store.require_active(ada.id)
    assert store.loads == before + 1


def test_an_accounts_file_changed_moments_ago_is_parsed_on_every_read(
    tmp_path: Path, clock: ManualClock
) -> None:
    # its mtime cannot yet tell it from a write in the same clock tick
    store = AccountStore(tmp_path, clock)
    ada = store.create_user("ada@example.com")
    _set_mtime(store.path, 0.5)
    before = store.loads
    for _ in range(3):
        store.require_active(ada.id)
    assert store.loads == before + 3


@pytest.mark.parametrize("settled", [True, False])
def test_another_process_changing_the_accounts_is_seen_by_the_next_read(
    tmp_path: Path, clock: ManualClock, settled: bool
) -> None:
    reader, writer = AccountStore(tmp_path, clock), AccountStore(tmp_path, clock)
    ada = writer.create_user("ada@example.com")
    key, info = writer.create_api_key(ada.id, "ns_1", "ci")
    if settled:
        _set_mtime(writer.path, -10)
    assert reader.verify_api_key(key).id == ada.id
    writer.set_disabled(ada.id, True)
    with pytest.raises(Unauthenticated, match="disabled"):
        reader.verify_api_key(key)
    with pytest.raises(Unauthenticated, match="disabled"):
        reader.require_active(ada.id)
    writer.set_disabled(ada.id, False)
    assert reader.verify_api_key(key).id == ada.id
    writer.revoke_api_key(ada.id, info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        reader.verify_api_key(key)
    assert reader.list_api_keys(ada.id) == []


# API keys -------------------------------------------------------------------------------


def test_api_keys_are_stored_hashed_and_revocable(auth: LocalAuth, tmp_path: Path) -> None:
    user = auth.create_user("ada@example.com")
    plaintext, info = auth.create_api_key(user, "ns_1", "ci")
    assert plaintext.startswith("floww_")
    assert (info.user_id, info.namespace_id, info.name) == (user.id, "ns_1", "ci")
    assert plaintext not in repr(info)
    assert plaintext not in (tmp_path / "auth" / "accounts.json").read_text()

    principal = auth.verify(plaintext)
    assert (principal.kind, principal.id, principal.namespace_id) == ("api_key", user.id, "ns_1")
    assert auth.list_api_keys(user) == [info]
    assert make_auth(tmp_path).verify(plaintext) == principal

    other = auth.create_user("bob@example.com")
    assert auth.list_api_keys(other) == []
    with pytest.raises(NotFound):
        auth.revoke_api_key(other, info.id)
    auth.revoke_api_key(user, info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.verify(plaintext)
    assert auth.list_api_keys(user) == []
    with pytest.raises(NotFound):
        auth.revoke_api_key(user, info.id)


def test_api_keys_need_a_name_and_a_known_user(auth: LocalAuth) -> None:
    # Who may manage keys at all is usecases.api_keys's decision (tests/unit/test_api_keys.py).
    user = auth.create_user("ada@example.com")
    with pytest.raises(InvalidInput):
        auth.create_api_key(user, "ns_1", "  ")
    with pytest.raises(NotFound):
        auth.create_api_key(Principal(id="user_ghost"), "ns_1", "ci")
    with pytest.raises(Unauthenticated):
        auth.verify("floww_" + "x" * 43)


# refresh, device flow -------------------------------------------------------------------


def test_refresh_gives_a_new_token_set(auth: LocalAuth, clock: ManualClock) -> None:
    user = auth.create_user("ada@example.com")
    tokens = _approved_tokens(auth, clock, user)
    assert tokens.refresh_token is not None
    clock.advance(3600)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.verify(tokens.access_token)
    renewed = auth.refresh(tokens.refresh_token)
    assert auth.verify(renewed.access_token) == user
    assert renewed.refresh_token not in (None, tokens.refresh_token)


def test_refresh_tokens_expire(tmp_path: Path, clock: ManualClock) -> None:
    auth = make_auth(tmp_path, clock, refresh_ttl=600)
    tokens = _approved_tokens(auth, clock, auth.create_user("ada@example.com"))
    assert tokens.refresh_token is not None
    clock.advance(600)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.refresh(tokens.refresh_token)


def test_refresh_needs_a_known_user(auth: LocalAuth, clock: ManualClock) -> None:
    tokens = _approved_tokens(auth, clock, Principal(id="user_elsewhere"))
    assert tokens.refresh_token is not None
    with pytest.raises(Unauthenticated, match="no longer exists"):
        auth.refresh(tokens.refresh_token)


def test_a_decided_user_code_cannot_be_decided_again(auth: LocalAuth) -> None:
    user = auth.create_user("ada@example.com")
    device = auth.start_device("floww-cli")
    auth.approve_device(device.user_code, user)
    with pytest.raises(Conflict):
        auth.deny_device(device.user_code)
    with pytest.raises(InvalidInput):
        auth.approve_device(auth.start_device("floww-cli").user_code, Principal("x", "registry"))


# nothing secret leaks -------------------------------------------------------------------


def test_no_secret_in_logs_or_reprs(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = make_auth(tmp_path, clock)
    user = auth.create_user("ada@example.com", "correct horse")
    device = auth.start_device("floww-cli")
    auth.approve_device(device.user_code, user)
    clock.advance(device.interval)
    tokens = auth.poll_device(device.device_code)
    api_key, _ = auth.create_api_key(user, "ns_1", "ci")
    secrets_seen = [
        "correct horse",
        device.device_code,
        tokens.access_token,
        tokens.refresh_token or "",
        api_key,
        *(path.read_text().strip() for path in (tmp_path / "keys").glob("*.key")),
    ]
    shown = caplog.text + repr(auth) + repr(tokens) + repr(device)
    assert "created access key file" in caplog.text
    for secret in secrets_seen:
        assert secret and secret not in shown


@pytest.mark.parametrize(
    "claims",
    [
        {"ns": "ns_1", "wf": "wf_1", "ex": "exe_1"},
        {"sub": "usr_é", "n": 3, "nested": {"b": 1}},
        {"ratio": 1e-05, "big": 2**70, "on": True, "none": None},
    ],
)
def test_tokens_are_encoded_byte_for_byte_as_pyjwt_encodes_them(
    claims: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The codec signs tokens itself; PyJWT, which verifies them, would have made the same."""
    import jwt

    from floww.adapters.local import tokens

    key = os.urandom(32)
    codec = tokens.TokenCodec({"execution": key, "access": os.urandom(32)})
    monkeypatch.setattr(tokens, "random_bytes", lambda n: bytes(range(n)))
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    token = codec.encode("execution", claims, now=now, ttl_seconds=60)
    payload = {**claims, "typ": "execution", "iat": int(now.timestamp())}
    jti = base64.urlsafe_b64encode(bytes(range(12))).rstrip(b"=").decode()
    payload.update(exp=payload["iat"] + 60, jti=jti)
    expected = jwt.encode(payload, key, algorithm="HS256", headers={"kid": "execution"})
    assert token == expected
    assert codec.decode(token, purposes=["execution"], now=now)[1] == payload
    with pytest.raises(Unauthenticated):
        codec.decode(token, purposes=["access"], now=now)
