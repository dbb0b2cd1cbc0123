"""The client side of RFC 8628 device authorization, against whatever endpoints a floww server
advertises in ``/api/config`` (its own flow, or an identity provider's).

- ``start`` asks for a device code and a user code.
- ``poll`` asks for tokens until the user decides: it waits ``interval`` seconds between
  polls, adds five seconds on ``slow_down`` (RFC 8628 3.5), and stops on ``access_denied``
  (``PermissionDenied``) or an expired code (``Unauthenticated``); ``DeadlineExceeded`` past
  ``expires_in``.
- ``refresh`` trades a refresh token for a new token set (``Unauthenticated`` when refused).

The client id sent is the one ``/api/config`` advertises (``auth.client_id``, as with WorkOS
CLI Auth), else ``client_id``.

Waiting goes through the injected ``sleep`` so tests need no real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from floww.adapters.http_client.client import ApiClient
from floww.domain.errors import (
    DeadlineExceeded,
    FlowwError,
    InvalidInput,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.ports.identity import DeviceAuthorization, TokenSet

__all__ = ["DEVICE_GRANT", "DeviceFlowClient"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SLOW_DOWN_STEP = 5


@attrs.frozen
class _Endpoints:
    device: str
    token: str


class DeviceFlowClient:
    def __init__(
        self,
        api: ApiClient,
        auth_config: dict[str, Any],
        *,
        client_id: str = "floww-cli",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._endpoints = _Endpoints(
            device=_path(api, auth_config.get("device_authorization_endpoint"), "/api/auth/device"),
            token=_path(api, auth_config.get("token_endpoint"), "/api/auth/token"),
        )
        # An identity provider's device flow (WorkOS CLI Auth) names the client to send.
        advertised_client = auth_config.get("client_id")
        self._client_id = advertised_client if isinstance(advertised_client, str) else client_id
        self._sleep = sleep
        self._clock = clock

    def start(self) -> DeviceAuthorization:
        doc = self._api.post(
            self._endpoints.device, None, auth=False, form={"client_id": self._client_id}
        )
        try:
            return DeviceAuthorization(
                device_code=str(doc["device_code"]),
                user_code=str(doc["user_code"]),
                verification_uri=str(doc["verification_uri"]),
                verification_uri_complete=str(
                    doc.get("verification_uri_complete") or doc["verification_uri"]
                ),
                expires_in=int(doc["expires_in"]),
                interval=int(doc.get("interval") or 5),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise Unavailable("the server's device authorization answer is malformed") from exc

    def poll(self, device: DeviceAuthorization) -> TokenSet:
        interval = max(1, device.interval)
        deadline = self._clock() + device.expires_in
        while True:
            self._sleep(interval)
            if self._clock() > deadline:
                raise DeadlineExceeded("the login code expired before it was approved")
            try:
                return self._tokens({"grant_type": DEVICE_GRANT, "device_code": device.device_code})
            except _OAuthError as exc:
                if exc.code == "authorization_pending":
                    continue
                if exc.code == "slow_down":
                    interval += _SLOW_DOWN_STEP
                    continue
                if exc.code == "access_denied":
                    raise PermissionDenied("the login was denied in the browser") from None
                if exc.code in ("expired_token", "invalid_grant"):
                    raise Unauthenticated(
                        "the login code expired; run `floww login` again"
                    ) from None
                raise InvalidInput(f"the server refused the login: {exc.code}") from None

    def refresh(self, refresh_token: str) -> TokenSet:
        try:
            return self._tokens({"grant_type": "refresh_token", "refresh_token": refresh_token})
        except _OAuthError as exc:
            raise Unauthenticated(f"the session could not be refreshed ({exc.code})") from None

    def _tokens(self, form: dict[str, str]) -> TokenSet:
        form = {**form, "client_id": self._client_id}  # RFC 8628 3.4: public clients say who
        try:
            doc = self._api.post(self._endpoints.token, None, auth=False, form=form)
        except FlowwError as exc:
            code = str(exc.details.get("oauth_error") or "")
            if isinstance(exc, InvalidInput | Unauthenticated) and code:
                raise _OAuthError(code) from None
            raise
        try:
            return TokenSet(
                access_token=str(doc["access_token"]),
                expires_in=int(doc.get("expires_in") or 3600),
                refresh_token=str(doc["refresh_token"]) if doc.get("refresh_token") else None,
                token_type=str(doc.get("token_type") or "Bearer"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise Unavailable("the server's token answer is malformed") from exc


class _OAuthError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _path(api: ApiClient, advertised: object, default: str) -> str:
    """Endpoints on the API's own server become paths; others stay absolute URLs."""
    if not isinstance(advertised, str) or not advertised:
        return default
    if advertised.startswith(api.base_url):
        return advertised[len(api.base_url) :] or "/"
    return advertised
