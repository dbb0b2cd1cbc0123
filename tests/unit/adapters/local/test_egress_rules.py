"""The egress proxy's address rules: what sandboxed handlers may reach. The proxy itself, on
real sockets, is in tests/integration/test_egress_proxy.py."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.local.egress_rules import Address, EgressRules, host_addresses, restriction
from floww.domain.errors import InvalidInput

REFUSED_V4 = {
    "0.0.0.0/8": "unspecified|reserved",
    "10.0.0.0/8": "private",
    "100.64.0.0/10": "shared",
    "127.0.0.0/8": "loopback",
    "169.254.0.0/16": "link-local",
    "172.16.0.0/12": "private",
    "192.168.0.0/16": "private",
    "224.0.0.0/4": "multicast",
    "240.0.0.0/4": "reserved",
    "192.0.0.0/24": "IETF protocol assignments",
    "192.0.2.0/24": "documentation",
    "192.88.99.0/24": "6to4 relay",
    "198.18.0.0/15": "benchmarking",
    "198.51.100.0/24": "documentation",
    "203.0.113.0/24": "documentation",
}
REFUSED_V6 = {
    "::/128": "unspecified",
    "::1/128": "loopback",
    "fc00::/7": "private",
    "fe80::/10": "link-local",
    "ff00::/8": "multicast",
    "fec0::/10": "outside global unicast",
    "5f00::/16": "outside global unicast",
    "100::/64": "outside global unicast",
    "4000::/2": "outside global unicast",
    "3fff::/20": "documentation",
    "2001:db8::/32": "documentation",
    "2001::/32": "Teredo",
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "2a00:1450:4001::200e"]


def no_own_addresses() -> frozenset[Address]:
    return frozenset()


def within(network: str) -> st.SearchStrategy[Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


any_v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
refused_v4 = st.sampled_from(sorted(REFUSED_V4)).flatmap(
    lambda n: st.tuples(within(n), st.just(REFUSED_V4[n]))
)
refused_v6 = st.sampled_from(sorted(REFUSED_V6)).flatmap(
    lambda n: st.tuples(within(n), st.just(REFUSED_V6[n]))
)


@given(refused_v4)
def test_every_address_of_a_refused_ipv4_range_is_refused_naming_why(
    case: tuple[Address, str],
) -> None:
    address, kind = case
    why = restriction(address)
    assert why is not None
    assert any(k in why for k in kind.split("|")), (address, why)


@given(refused_v6)
def test_every_address_of_a_refused_ipv6_range_is_refused_naming_why(
    case: tuple[Address, str],
) -> None:
    address, kind = case
    why = restriction(address)
    assert why is not None and kind in why, (address, why)


@given(any_v4)
def test_an_ipv4_address_carried_in_ipv6_is_judged_as_itself(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    expected = restriction(address)
    assert restriction(mapped) == expected
    assert restriction(nat64) == expected
    if expected is not None:
        assert restriction(sixtofour) == expected


@given(any_v4)
def test_an_ipv4_address_in_the_other_ipv6_forms_that_carry_one_is_judged_by_it_or_refused(
    address: ipaddress.IPv4Address,
) -> None:
    compatible = ipaddress.IPv6Address(int(address))
    siit = ipaddress.IPv6Address(int(ipaddress.IPv6Address("::ffff:0:0:0")) | int(address))
    local_nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | int(address))
    expected = restriction(address)
    assert restriction(local_nat64) == expected
    for carried in (siit, compatible) if int(address) > 1 else (siit,):
        why = restriction(carried)
        assert why is not None  # deprecated forms outside 2000::/3: refused whatever they carry
        if expected is not None:
            assert why == expected


@given(any_v4)
def test_whatever_passes_is_a_global_unicast_address(address: ipaddress.IPv4Address) -> None:
    if restriction(address) is None:
        assert address.is_global and not address.is_multicast
        assert not any(address in n for n in map(ipaddress.ip_network, REFUSED_V4))


any_v6 = st.one_of(
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    within("2000::/3"),
    within("2001::/23"),
)


@given(any_v6)
def test_an_ipv6_address_passes_only_as_global_unicast_or_carrying_a_public_ipv4_address(
    address: ipaddress.IPv6Address,
) -> None:
    if restriction(address) is None:
        carries = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if address in ipaddress.ip_network("64:ff9b::/96")
            or address in ipaddress.ip_network("64:ff9b:1::/48")
            else None
        )
        assert address in ipaddress.ip_network("2000::/3") or carries is not None
        if carries is not None:
            assert restriction(carries) is None
        assert not any(address in n for n in map(ipaddress.ip_network, REFUSED_V6))


@pytest.mark.parametrize(
    "text",
    [
        "::7f00:1",
        "::127.0.0.1",
        "::ffff:0:7f00:1",
        "64:ff9b:1::7f00:1",
        "64:ff9b:1::a9fe:a9fe",
        "::a9fe:a9fe",
        "::1.2.3.4",
        "fec0::1",
        "3fff::1",
        "5f00::1",
        "100::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "192.0.0.8",
        "192.0.0.170",
        "255.255.255.255",
    ],
)
def test_what_pythons_is_global_lets_through_is_refused(text: str) -> None:
    assert restriction(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize(
    "text", ["::ffff:8.8.8.8", "64:ff9b::808:808", "64:ff9b:1::808:808", "2001:4:112::1"]
)
def test_public_ipv4_through_ipv6_and_anycast_services_pass(text: str) -> None:
    assert restriction(ipaddress.ip_address(text)) is None


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_pass(text: str) -> None:
    address = ipaddress.ip_address(text)
    assert restriction(address) is None
    assert EgressRules(own_addresses=no_own_addresses).refusal("example.com", address) is None


def test_the_cloud_metadata_address_is_refused() -> None:
    rules = EgressRules(own_addresses=no_own_addresses)
    why = rules.refusal("169.254.169.254", ipaddress.ip_address("169.254.169.254"))
    assert why is not None and "link-local" in why and "FLOWW_SANDBOX_EGRESS_ALLOW" in why
    assert why.startswith("169.254.169.254, ")
    mapped = ipaddress.ip_address("::ffff:169.254.169.254")
    why = rules.refusal("[::ffff:169.254.169.254]", mapped)
    assert why is not None and why.startswith("[::ffff:169.254.169.254], a link-local"), why


@given(st.sampled_from(PUBLIC).map(ipaddress.ip_address))
def test_this_machines_own_public_address_is_refused(address: Address) -> None:
    rules = EgressRules(own_addresses=lambda: frozenset({address}))
    why = rules.refusal("me.example.com", address)
    assert why is not None and "this machine's own" in why and "me.example.com resolves" in why
    assert str(address) not in why
    if address.version == 4:
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        assert rules.refusal("me.example.com", mapped) is not None


@given(refused_v4)
def test_an_allowed_network_or_host_lets_a_refused_address_through(
    case: tuple[Address, str],
) -> None:
    address, _ = case
    by_network = EgressRules.parse(f"{address}/32", own_addresses=lambda: frozenset({address}))
    assert by_network.refusal("anything.example", address) is None
    by_host = EgressRules.parse("Internal.Example.COM.", own_addresses=no_own_addresses)
    assert by_host.refusal("internal.example.com", address) is None
    assert by_host.refusal("other.example.com", address) is not None


def test_the_allow_list_is_parsed_from_commas_and_spaces() -> None:
    rules = EgressRules.parse(" 10.1.0.0/16, hooks.internal  192.0.2.7 ,fd00::/8,")
    assert rules.allow_hosts == frozenset({"hooks.internal"})
    assert [str(n) for n in rules.allow_networks] == ["10.1.0.0/16", "192.0.2.7/32", "fd00::/8"]
    assert rules.describe() == "hooks.internal, 10.1.0.0/16, 192.0.2.7/32, fd00::/8"
    assert EgressRules.parse("").describe() == "none"
    for bad in ("300.1.2.3", "not a host!", "http://x.example", "-x.example"):
        with pytest.raises(InvalidInput, match="FLOWW_SANDBOX_EGRESS_ALLOW"):
            EgressRules.parse(bad)


def test_this_machines_addresses_are_read_from_the_routing_tables(tmp_path: Path) -> None:
    (tmp_path / "fib_trie").write_text(
        "Main:\n"
        "  +-- 0.0.0.0/0 3 0 5\n"
        "     |-- 127.0.0.1\n"
        "        /32 host LOCAL\n"
        "     |-- 203.0.113.9\n"
        "        /32 host LOCAL\n"
        "     |-- 203.0.113.255\n"
        "        /32 link BROADCAST\n"
        "     |-- 198.51.100.0\n"
        "        /24 link UNICAST\n"
    )
    (tmp_path / "if_inet6").write_text(
        "2a0100000000000000000000000000aa 02 40 00 80     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
    )
    found = {str(a) for a in host_addresses(tmp_path)}
    assert found == {"127.0.0.1", "203.0.113.9", "2a01::aa", "::1"}
    assert host_addresses(tmp_path / "missing") == frozenset()
