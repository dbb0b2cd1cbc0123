"""The server's own calls to provider APIs go where sandboxed handlers' may: ``EgressTransport``.

A provider's ``api_url`` is the tenant's to choose, and the server calls it at deploy: without
a check a tenant could make the server call its loopback, the LAN or the cloud metadata
service. ``EgressTransport`` resolves each request's host itself, checks every address under
the egress proxy's ``EgressRules`` (the same allow-list, ``FLOWW_SANDBOX_EGRESS_ALLOW``), and
sends the request to an accepted address only (the next one when it does not answer), with
the ``Host`` header and the TLS server name (certificate check included) of the host as
named. Where no address is accepted it raises ``EgressRefused`` with the reason, which names
the host and the kind of address, not the address (logged); a name that does not resolve
within the request's connect timeout raises ``httpx.ConnectTimeout``.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import socket
from collections.abc import Callable

import httpx

from floww.adapters.local.egress_rules import Address, EgressRules

__all__ = ["EgressRefused", "EgressTransport"]

log = logging.getLogger("floww.provider_hooks")

Resolve = Callable[[str, int], list[Address]]

_WHO = "the server's calls to provider APIs"
_DNS_TIMEOUT_S = 10.0  # where the request names no connect timeout


class EgressRefused(httpx.TransportError):
    """No address of the request's host is one the rules accept."""


def _system_resolve(host: str, port: int) -> list[Address]:
    addresses: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class EgressTransport(httpx.BaseTransport):
    """Sends requests through ``inner`` (a plain ``httpx.HTTPTransport`` by default) to the
    addresses of their host that ``rules`` accept; ``resolve`` replaces the system's name
    resolution."""

    def __init__(
        self,
        rules: EgressRules,
        *,
        inner: httpx.BaseTransport | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self._rules = rules
        self._inner = inner or httpx.HTTPTransport()
        self._resolve = resolve or _system_resolve

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        timeout = request.extensions.get("timeout", {}).get("connect") or _DNS_TIMEOUT_S
        try:
            addresses = self._resolve_within(host, port, timeout)
        except concurrent.futures.TimeoutError:
            raise httpx.ConnectTimeout(
                f"{host} did not resolve within {timeout:g} s", request=request
            ) from None
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(
                f"{host} could not be resolved: {exc}", request=request
            ) from exc
        accepted = []
        refusals = []
        for address in addresses:
            why = self._rules.refusal(host, address, who=_WHO)
            if why is None:
                accepted.append(address)
            else:
                refusals.append(why)
        if not accepted:
            shown = ", ".join(map(str, addresses)) or "-"
            reason = refusals[0] if refusals else f"{host} has no address"
            log.info("provider API call refused (%s: %s): %s", host, shown, reason)
            raise EgressRefused(reason, request=request)
        failure: httpx.ConnectError | None = None
        for address in accepted:
            request.url = url.copy_with(host=str(address))
            if url.scheme == "https":  # the certificate is checked against the named host
                request.extensions = {**request.extensions, "sni_hostname": host}
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError as exc:
                failure = exc
            finally:
                request.url = url
        assert failure is not None
        raise failure

    def _resolve_within(self, host: str, port: int, timeout: float) -> list[Address]:
        # On a thread of its own: the system's resolver has no timeout to give, and a lookup
        # that never answers must not hold the deploy past the call's connect timeout.
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="floww-provider-dns")
        try:
            return pool.submit(self._resolve, host, port).result(timeout)
        finally:
            pool.shutdown(wait=False)

    def close(self) -> None:
        self._inner.close()
