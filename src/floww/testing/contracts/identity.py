"""Contracts of ``Identity`` (user tokens, RFC 8628 device flow) and ``PlatformTokens``
(execution and registry tokens), and how ``authenticate`` tells them apart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from floww.domain.errors import (
    DeviceAuthorizationPending,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from floww.domain.model import Principal
from floww.domain.usecases.authentication import authenticate
from floww.ports.identity import DeviceAuthorization

if TYPE_CHECKING:
    from floww.testing.contracts.harness import AuthHarness


def poll_code(harness: AuthHarness, device: DeviceAuthorization) -> str:
    with pytest.raises(DeviceAuthorizationPending) as info:
        harness.auth.poll_device(device.device_code)
    return info.value.code


def test_verify_rejects_missing_and_forged_tokens(auth_harness: AuthHarness) -> None:
    for token in ("", "not-a-token", "flw_" + "x" * 43):
        with pytest.raises(Unauthenticated):
            auth_harness.auth.verify(token)


def verify(harness: AuthHarness, token: str) -> Principal:
    return authenticate(token, identity=harness.auth, tokens=harness.tokens)


def test_execution_token_names_its_execution(auth_harness: AuthHarness) -> None:
    token = auth_harness.tokens.issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    principal = verify(auth_harness, token)
    assert principal.kind == "execution"
    assert (principal.namespace_id, principal.workflow_id, principal.execution_id) == (
        "ns_1",
        "wf_1",
        "ex_1",
    )


def test_execution_token_expires(auth_harness: AuthHarness) -> None:
    token = auth_harness.tokens.issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    auth_harness.clock.advance(59)
    verify(auth_harness, token)
    auth_harness.clock.advance(2)
    with pytest.raises(Unauthenticated):
        verify(auth_harness, token)


def test_registry_token_is_scoped_to_one_repository(auth_harness: AuthHarness) -> None:
    token = auth_harness.tokens.issue_registry_token(
        namespace_id="ns_1", repository="floww/ns_1", ttl_seconds=300
    )
    principal = verify(auth_harness, token)
    assert principal.kind == "registry"
    assert principal.namespace_id == "ns_1"
    assert principal.scopes == ("push:floww/ns_1",)


def test_tokens_are_distinct(auth_harness: AuthHarness) -> None:
    issue = auth_harness.tokens.issue_registry_token
    first = issue(namespace_id="ns_1", repository="r", ttl_seconds=60)
    second = issue(namespace_id="ns_1", repository="r", ttl_seconds=60)
    assert first != second


def test_platform_and_user_tokens_are_told_apart(auth_harness: AuthHarness) -> None:
    """A user's token is no platform token, and a platform token is never a user's."""
    device = auth_harness.auth.start_device("floww-cli")
    auth_harness.auth.approve_device(device.user_code, auth_harness.make_user("ada@example.com"))
    access = auth_harness.auth.poll_device(device.device_code).access_token
    assert auth_harness.tokens.verify(access) is None
    assert verify(auth_harness, access).kind == "user"
    execution = auth_harness.tokens.issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    with pytest.raises(Unauthenticated):
        auth_harness.auth.verify(execution)


def test_a_forged_platform_token_is_refused_not_passed_on(auth_harness: AuthHarness) -> None:
    token = auth_harness.tokens.issue_execution_token(
        namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
    )
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated):
        verify(auth_harness, forged)


def test_issuing_needs_ids_and_a_lifetime(auth_harness: AuthHarness) -> None:
    with pytest.raises(InvalidInput):
        auth_harness.tokens.issue_execution_token(
            namespace_id="", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
        )
    with pytest.raises(InvalidInput):
        auth_harness.tokens.issue_registry_token(namespace_id="ns_1", repository="r", ttl_seconds=0)


class TestDeviceFlow:
    def test_approved_device_gets_a_token_for_the_user(self, auth_harness: AuthHarness) -> None:
        auth, user = auth_harness.auth, auth_harness.make_user("ada@example.com")
        device = auth.start_device("floww-cli")
        assert device.user_code in device.verification_uri_complete
        assert device.expires_in > 0 and device.interval > 0
        assert poll_code(auth_harness, device) == "authorization_pending"
        auth.approve_device(device.user_code, user)
        auth_harness.clock.advance(device.interval)
        tokens = auth.poll_device(device.device_code)
        assert tokens.token_type == "Bearer" and tokens.expires_in > 0
        principal = auth.verify(tokens.access_token)
        assert (principal.id, principal.kind, principal.email) == (user.id, "user", user.email)

    def test_user_code_is_matched_loosely(self, auth_harness: AuthHarness) -> None:
        auth, user = auth_harness.auth, auth_harness.make_user("ada@example.com")
        device = auth.start_device("floww-cli")
        auth.approve_device(device.user_code.lower().replace("-", ""), user)
        assert auth.verify(auth.poll_device(device.device_code).access_token).id == user.id

    def test_polling_faster_than_the_interval_slows_down(self, auth_harness: AuthHarness) -> None:
        device = auth_harness.auth.start_device("floww-cli")
        assert poll_code(auth_harness, device) == "authorization_pending"
        auth_harness.clock.advance(device.interval - 1)
        assert poll_code(auth_harness, device) == "slow_down"
        # RFC 8628 3.5: every slow_down adds 5 seconds to the interval for later polls
        auth_harness.clock.advance(device.interval)
        assert poll_code(auth_harness, device) == "slow_down"
        auth_harness.clock.advance(device.interval + 10)
        assert poll_code(auth_harness, device) == "authorization_pending"

    def test_denied_device_gets_access_denied(self, auth_harness: AuthHarness) -> None:
        device = auth_harness.auth.start_device("floww-cli")
        auth_harness.auth.deny_device(device.user_code)
        assert poll_code(auth_harness, device) == "access_denied"

    def test_device_code_expires(self, auth_harness: AuthHarness) -> None:
        auth = auth_harness.auth
        device = auth.start_device("floww-cli")
        auth_harness.clock.advance(device.expires_in + 1)
        assert poll_code(auth_harness, device) == "expired_token"
        with pytest.raises(NotFound):
            auth.approve_device(device.user_code, auth_harness.make_user("ada@example.com"))
        with pytest.raises(NotFound):
            auth.deny_device(device.user_code)

    def test_unknown_codes_raise_not_found(self, auth_harness: AuthHarness) -> None:
        auth = auth_harness.auth
        with pytest.raises(NotFound):
            auth.poll_device("unknown-device-code")
        with pytest.raises(NotFound):
            auth.approve_device("BCDF-GHJK", auth_harness.make_user("ada@example.com"))
        with pytest.raises(NotFound):
            auth.deny_device("BCDF-GHJK")

    def test_a_device_login_is_granted_to_users_only(self, auth_harness: AuthHarness) -> None:
        auth = auth_harness.auth
        device = auth.start_device("floww-cli")
        execution = verify(
            auth_harness,
            auth_harness.tokens.issue_execution_token(
                namespace_id="ns_1", workflow_id="wf_1", execution_id="ex_1", ttl_seconds=60
            ),
        )
        with pytest.raises(InvalidInput):
            auth.approve_device(device.user_code, execution)
        assert poll_code(auth_harness, device) == "authorization_pending"

    def test_a_device_code_yields_one_token_set(self, auth_harness: AuthHarness) -> None:
        auth = auth_harness.auth
        device = auth.start_device("floww-cli")
        auth.approve_device(device.user_code, auth_harness.make_user("ada@example.com"))
        auth.poll_device(device.device_code)
        auth_harness.clock.advance(device.interval)
        with pytest.raises((NotFound, DeviceAuthorizationPending)):
            auth.poll_device(device.device_code)
