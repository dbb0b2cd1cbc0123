"""``HttpProxyCaller``: the requests Centrifugo sends to an application's connect, subscribe and
(when ``rpc_url`` is given) RPC proxy endpoints, for the embedded hub when it plays Centrifugo.

Each call is an HTTP POST of the proxy request JSON (``Content-Type: application/json``) with
the configured headers of the client's websocket request copied onto it (``http_headers``;
Centrifugo copies none unless told). The answer's JSON object (``result``, ``error`` or
``disconnect``) is returned as it is; a transport failure, a timeout, an HTTP status other
than 200 or an answer that is not a JSON object raise ``Unavailable`` (Centrifugo then answers
the client with its temporary "internal server error").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from floww.domain.errors import Unavailable

__all__ = ["HttpProxyCaller"]


class HttpProxyCaller:
    def __init__(
        self,
        connect_url: str,
        subscribe_url: str,
        *,
        rpc_url: str | None = None,
        http_headers: Sequence[str] = ("Authorization",),
        http: httpx.Client | None = None,
        timeout_s: float = 1.0,
    ) -> None:
        self.connect_url = connect_url
        self.subscribe_url = subscribe_url
        self.rpc_url = rpc_url
        self._forward = tuple(h.lower() for h in http_headers)
        self._http = http if http is not None else httpx.Client()
        self._timeout = httpx.Timeout(timeout_s)

    def connect(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        return self._post(self.connect_url, request, headers)

    def subscribe(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        return self._post(self.subscribe_url, request, headers)

    @property
    def offers_rpc(self) -> bool:
        return self.rpc_url is not None

    def rpc(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        """``Unavailable`` when no RPC proxy is configured, as for a failed call."""
        if self.rpc_url is None:
            raise Unavailable("no RPC proxy is configured")
        return self._post(self.rpc_url, request, headers)

    def close(self) -> None:
        self._http.close()

    def _post(
        self, url: str, request: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        forwarded = {k: v for k, v in headers.items() if k.lower() in self._forward}
        forwarded["Content-Type"] = "application/json"
        try:
            response = self._http.post(url, json=request, headers=forwarded, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise Unavailable(f"proxy {url} cannot be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise Unavailable(f"proxy {url} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise Unavailable(f"proxy {url} answered with non-JSON") from None
        if not isinstance(body, dict):
            raise Unavailable(f"proxy {url} answered with a non-object")
        return body
