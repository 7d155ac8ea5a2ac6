"""The address table against IANA's special-purpose registries, as IANA publishes them.

tests/data/iana-ipv{4,6}-special-registry.csv are the registries' CSV files (snapshot of
2026-07); every entry is checked row by row against svp.media.addresses, then its first, middle
and last address against an expectation computed here from the CSV alone. No socket is opened:
these are decisions on addresses, not connections.
"""

from __future__ import annotations

import ipaddress

import pytest

from svp.media.addresses import (
    IPV4_SPECIAL,
    IPV6_SPECIAL,
    METADATA_ADDRESSES,
    address_problem,
    embedded_ipv4,
)
from svp.media.urlguard import Policy, Refused, check_host
from tests.ssrf_cases import first_middle_last, registry

REGISTRY = registry(4) + registry(6)
MULTICAST = [ipaddress.ip_network("224.0.0.0/4"), ipaddress.ip_network("ff00::/8")]


def test_the_table_holds_every_registry_entry_with_its_flags_and_rfc():
    table = {block.network: block for block in IPV4_SPECIAL + IPV6_SPECIAL}
    assert len(table) == len(IPV4_SPECIAL + IPV6_SPECIAL), "a block is listed twice"
    assert set(table) == {row["network"] for row in REGISTRY}
    for row in REGISTRY:
        block = table[row["network"]]
        assert block.globally_reachable == row["globally_reachable"], row["name"]
        assert block.forwardable == row["forwardable"], row["name"]
        assert block.rfc in row["rfcs"], row["name"]


def expected_refused(address) -> bool:
    """From the registry CSV alone: refused unless the most specific entry holding the address
    says globally reachable (and, for NAT64, the IPv4 address inside is public too)."""
    if address in METADATA_ADDRESSES or any(address in net for net in MULTICAST):
        return True
    holding = [
        r for r in REGISTRY if address.version == r["network"].version and address in r["network"]
    ]
    if not holding:
        return address.version == 6 and address not in ipaddress.ip_network("2000::/3")
    entry = max(holding, key=lambda r: r["network"].prefixlen)
    if entry["globally_reachable"] is not True:
        return True
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return expected_refused(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return False


CASES = [
    pytest.param(address, id=f"{row['network']}:{address}")
    for row in REGISTRY
    for address in first_middle_last(row["network"])
]


@pytest.mark.parametrize("address", CASES)
def test_each_registry_entry_first_middle_and_last_address(address):
    problem = address_problem(address)
    assert (problem is not None) == expected_refused(address), problem


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # What the interpreter's own tables let through (3.11.7), refused by the table.
        ("192.0.0.192", "a cloud metadata address"),
        ("192.0.0.8", "the IPv4 dummy address"),
        ("192.0.0.255", "an IETF protocol assignment"),
        ("192.88.99.1", "a deprecated 6to4 relay address"),
        ("3fff::1", "a documentation address"),
        ("fec0::1", "a site-local address"),
        ("5f00::1", "a segment routing address"),
        ("100:0:0:1::1", "a dummy IPv6 address"),
        ("4000::1", "outside IPv6 global unicast space"),
        # Every metadata address, whatever its block says (Azure's is public).
        *[(str(a), "a cloud metadata address") for a in sorted(METADATA_ADDRESSES, key=str)],
    ],
)
def test_addresses_the_interpreter_gets_wrong_are_refused(address, reason):
    assert reason in (address_problem(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "142.250.1.1",
        "2606:4700:4700::1111",
        "64:ff9b::808:808",
        "192.0.0.9",
        "2001:1::1",
        "2001:4:112::1",
    ],
)
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


BAD_IPV4 = [
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "192.0.0.192",
    "100.64.0.1",
    "192.168.1.1",
    "224.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
]


def wrapped(v4: str) -> dict[str, str]:
    """The IPv6 spellings of an IPv4 address."""
    n = int(ipaddress.IPv4Address(v4))
    return {
        "mapped": f"::ffff:{v4}",
        "compatible": f"::{v4}",
        "nat64": f"64:ff9b::{v4}",
        "nat64-local": f"64:ff9b:1::{v4}",
        "6to4": str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1)),
        # Teredo: server 65.54.227.120, client port and address obfuscated (bits flipped).
        "teredo": str(
            ipaddress.IPv6Address(
                (0x20010000 << 96)
                | (0x4136E378 << 64)
                | (0x8000 << 48)
                | (0xFFFF << 32)
                | (~n & 0xFFFFFFFF)
            )
        ),
    }


@pytest.mark.parametrize(
    ("v4", "form"),
    # ::0.0.0.0 is ::, the unspecified address itself
    [(v4, f) for v4 in BAD_IPV4 for f in wrapped(v4) if (v4, f) != ("0.0.0.0", "compatible")],
)
def test_a_non_public_ipv4_address_wrapped_in_ipv6_is_refused_by_its_own_reason(v4, form):
    address = ipaddress.IPv6Address(wrapped(v4)[form])
    assert embedded_ipv4(address) == ipaddress.IPv4Address(v4)
    problem = address_problem(address) or ""
    assert problem.startswith(address_problem(ipaddress.IPv4Address(v4)) or "?")
    assert f"{v4} wrapped in IPv6" in problem


@pytest.mark.parametrize(
    ("form", "refused"),
    [
        ("mapped", True),
        ("compatible", True),
        ("nat64", False),
        ("nat64-local", True),
        ("6to4", True),
        ("teredo", True),
    ],
)
def test_a_public_ipv4_address_wrapped_in_ipv6_passes_only_through_global_nat64(form, refused):
    address = ipaddress.IPv6Address(wrapped("8.8.8.8")[form])
    assert (address_problem(address) is not None) == refused


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("metadata", "metadata server"),
        ("metadata.google.internal", "metadata server"),
        ("METADATA.GOOGLE.INTERNAL.", "metadata server"),
        ("instance-data", "metadata server"),
        ("instance-data.ec2.internal", "metadata server"),
        ("metadata.goog", "metadata server"),
        ("localhost", "this machine"),
        ("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "this machine"),  # enclosed alphanumerics, read as yt-dlp reads them
        ("ＬＯＣＡＬＨＯＳＴ", "this machine"),
        ("app.localhost", "this machine"),
        ("printer.local", "private network"),
        ("db.c.project.internal", "private network"),
        ("nas.home.arpa", "private network"),
        ("ipv4only.arpa", "private network"),
    ],
)
def test_names_for_this_machine_and_metadata_servers_are_refused_without_dns(name, reason):
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"{host} was resolved")

    with pytest.raises(Refused, match=reason):
        check_host(name, 80, Policy(), no_dns)
