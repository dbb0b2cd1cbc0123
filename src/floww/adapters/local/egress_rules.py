"""Which addresses sandboxed handlers may reach through the egress proxy.

The proxy resolves a destination itself and connects only to addresses that pass
``EgressRules.refusal``: an address is refused when it is not a public internet address
(``restriction``) or when it is one of this machine's own (``host_addresses``), unless the
operator's allow-list (``FLOWW_SANDBOX_EGRESS_ALLOW``) names the destination's host or a
network holding the address. An allowed entry wins over every rule, this machine's addresses
included.

``restriction`` refuses unspecified, loopback, link-local (the cloud metadata address
169.254.169.254 among them), multicast, private (RFC 1918, IPv6 unique local) and shared
(RFC 6598) addresses, every IPv6 address outside global unicast ``2000::/3``, the blocks of
IANA's special-purpose registries that are not globally reachable (``_SPECIAL``: broadcast,
documentation, benchmarking, reserved, IETF protocol assignments, Teredo), and any other
address Python's ``ipaddress`` does not call global. IPv6 forms that carry an IPv4 address
(IPv4-mapped, IPv4-compatible ``::/96``, SIIT ``::ffff:0:0:0/96``, 6to4, NAT64
``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``, read as a /96) are judged by that
IPv4 address too; of those outside ``2000::/3``, only IPv4-mapped and NAT64 addresses of a
public IPv4 address pass.

``EgressRules.parse`` raises ``InvalidInput`` for an entry that is neither an address, a
network nor a host name.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from floww.domain.errors import InvalidInput

__all__ = ["Address", "EgressRules", "host_addresses", "restriction"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_PRIVATE: tuple[Network, ...] = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
    ipaddress.IPv6Network("fc00::/7"),
)
# IANA's special-purpose address registries (IPv4 and IPv6), the blocks not named above that
# a connection must not reach. IPv6 outside 2000::/3 is refused as a whole (``_restriction_of``).
_SPECIAL: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(network), name)
    for network, name in (
        ("0.0.0.0/8", "this network"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("255.255.255.255/32", "limited broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("2001::/23", "IETF protocol assignments, Teredo among them"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
    )
)
# Blocks inside those that the registries call globally reachable (anycast services).
_SPECIAL_BUT_GLOBAL: tuple[Network, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "2001:1::1/128",
        "2001:1::2/128",
        "2001:1::3/128",
        "2001:3::/32",
        "2001:4:112::/48",
        "2001:20::/28",
        "2001:30::/28",
    )
)
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_-]+)*$")
_OWN_ADDRESSES_TTL_S = 10.0


def restriction(address: Address) -> str | None:
    """Why ``address`` is not a public internet address (a phrase such as "a loopback
    address"), or ``None`` when it is one."""
    for candidate in reversed(_forms(address)):  # the carried IPv4 address names it best
        why = _restriction_of(candidate)
        if why is not None:
            return why
    return None


def _forms(address: Address) -> list[Address]:
    """``address`` and the IPv4 addresses it may carry."""
    forms: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.ipv4_mapped is not None:
            forms.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            forms.append(address.sixtofour)
        if address in _NAT64 or address in _SIIT:
            forms.append(low)
        if address in _COMPATIBLE and int(address) > 1:  # IPv4-compatible; not :: nor ::1
            forms.append(low)
        if address in _LOCAL_NAT64:
            # A network-specific prefix may have any of RFC 6052's lengths: judged as a /96
            # (the last 32 bits), the usual one; with another, those bits are mostly zero and
            # the address is refused.
            forms.append(low)
    return forms


def _carries_ipv4(address: ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is a way to reach an IPv4 address (IPv4-mapped, or NAT64), which
    its IPv4 address then judges; the other forms carrying one (IPv4-compatible, SIIT) are
    judged by it and also refused as IPv6 outside ``2000::/3``."""
    return address.ipv4_mapped is not None or address in _NAT64 or address in _LOCAL_NAT64


def _restriction_of(address: Address) -> str | None:
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_multicast:
        return "a multicast address"
    if any(address.version == n.version and address in n for n in _PRIVATE):
        return "a private address"
    if address.version == 4 and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if address.version == 6 and address not in _GLOBAL_UNICAST and not _carries_ipv4(address):
        return "a reserved or special-purpose address (IPv6 outside global unicast 2000::/3)"
    for network, name in _SPECIAL:
        if address.version == network.version and address in network:
            if any(address.version == n.version and address in n for n in _SPECIAL_BUT_GLOBAL):
                break
            return f"a reserved or special-purpose address ({name}, {network})"
    else:
        if not address.is_global:
            return "a reserved or special-purpose address"
    return None


@attrs.frozen
class EgressRules:
    """What the egress proxy lets through: public addresses that are not this machine's
    (``own_addresses`` lists those, asked again for every decision), plus ``allow_hosts``
    (lower-case names whose addresses are all allowed) and ``allow_networks``."""

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[Network, ...] = ()
    own_addresses: Callable[[], frozenset[Address]] = attrs.field(
        factory=lambda: _CachedHostAddresses(), eq=False
    )

    @classmethod
    def parse(
        cls, text: str, own_addresses: Callable[[], frozenset[Address]] | None = None
    ) -> EgressRules:
        """Rules from a comma- or space-separated list of host names, addresses and networks
        (CIDR), such as ``FLOWW_SANDBOX_EGRESS_ALLOW``."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in re.split(r"[\s,]+", text.strip()):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = _host_key(entry)
            if not _HOST_NAME.match(name) or name.replace(".", "").isdigit():
                raise InvalidInput(
                    f"FLOWW_SANDBOX_EGRESS_ALLOW: {entry!r} is neither a host name, an address "
                    "nor a network (such as 10.1.2.0/24)"
                )
            hosts.add(name)
        if own_addresses is None:
            return cls(frozenset(hosts), tuple(networks))
        return cls(frozenset(hosts), tuple(networks), own_addresses)

    def describe(self) -> str:
        """The allow-list as the operator wrote it, for the start-up line."""
        entries = sorted(self.allow_hosts) + [str(n) for n in self.allow_networks]
        return ", ".join(entries) if entries else "none"

    def refusal(
        self, host: str, address: Address, *, who: str = "sandboxed handlers"
    ) -> str | None:
        """Why a connection to ``address`` (which ``host`` resolved to) is refused, as a
        sentence naming ``host`` but not ``address`` (``who`` is refused); ``None`` when it
        may go ahead."""
        if _host_key(host) in self.allow_hosts:
            return None
        if any(address.version == n.version and address in n for n in self.allow_networks):
            return None
        why = restriction(address)
        if why is None and not self.own_addresses().isdisjoint(_forms(address)):
            why = "one of this machine's own addresses"
        if why is None:
            return None
        # A name's address stays out of the sentence, which the handler reads: what an
        # internal name resolves to is the server's to know (the proxy logs it).
        try:
            literal = ipaddress.ip_address(_host_key(host)) == address
        except ValueError:
            literal = False
        named = f"{host}, {why}" if literal else f"{host} resolves to {why}"
        return (
            f"{named}: {who} reach public internet addresses only "
            "(the operator may allow more with FLOWW_SANDBOX_EGRESS_ALLOW)"
        )


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def host_addresses(proc_net: Path = Path("/proc/net")) -> frozenset[Address]:
    """This machine's own addresses, from Linux's routing tables (``fib_trie``: the local
    routes of every IPv4 address; ``if_inet6``: the IPv6 addresses of every interface). Empty
    where neither can be read."""
    found: set[Address] = set()
    try:
        trie = (proc_net / "fib_trie").read_text("ascii", "replace")
    except OSError:
        trie = ""
    last = ""
    for line in trie.splitlines():
        text = line.strip()
        if text.startswith(("|--", "+--")):
            last = text[3:].split()[0]
        elif text.startswith("/32 host LOCAL") and last:
            found.update(_parsed([last]))
    try:
        inet6 = (proc_net / "if_inet6").read_text("ascii", "replace")
    except OSError:
        inet6 = ""
    for line in inet6.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            found.update(_parsed([":".join(re.findall("....", fields[0]))]))
    return frozenset(found)


def _parsed(texts: Iterable[str]) -> list[Address]:
    parsed: list[Address] = []
    for text in texts:
        try:
            parsed.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    return parsed


class _CachedHostAddresses:
    """``host_addresses``, read again when older than a few seconds (addresses change: DHCP,
    interfaces coming up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._addresses: frozenset[Address] = frozenset()

    def __call__(self) -> frozenset[Address]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at > _OWN_ADDRESSES_TTL_S:
                self._addresses = host_addresses()
                self._read_at = now
            return self._addresses
