"""Which IP addresses the downloader may connect to: an explicit table, not the interpreter's.

`ipaddress`'s `is_global` / `is_private` tables change between Python releases (3.11.7 calls
192.0.0.192, a cloud metadata address, "global"; every release tried lets 192.88.99.1, 3fff::1
and fec0::1 through). So the policy is written out here from the registries themselves:

- IANA IPv4 Special-Purpose Address Registry and IANA IPv6 Special-Purpose Address Registry
  (snapshot of 2026-07, https://www.iana.org/assignments/iana-ipv4-special-registry and
  .../iana-ipv6-special-registry): every entry, its RFC, and its "Forwardable" and "Globally
  Reachable" columns (None where the registry says N/A or leaves the cell empty);
- multicast from the IPv4 and IPv6 address space registries (RFC 5771, RFC 4291) and the
  deprecated IPv6 site-local block (RFC 3879), which the special-purpose registries leave out;
- every cloud metadata address known to us, refused whatever the registry says (Azure's
  168.63.129.16 is a public address).

The decision for an address: a metadata address is refused; otherwise the most specific table
entry containing it decides: refused unless its "Globally Reachable" is True. An address in no
entry is public, except IPv6 outside 2000::/3 (the only block IANA allocates as global unicast).
An IPv6 address that wraps an IPv4 address is refused with the IPv4 address's reason when that
one is refused: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), NAT64
(64:ff9b::/96 and the local-use 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32, the
client's address). Otherwise the table decides: of these only 64:ff9b::/96 is globally
reachable (the translator connects to the IPv4 address); 6to4 and Teredo are N/A in the
registry, so refused.

`tests/data/iana-*-special-registry.csv` hold the registries as IANA publishes them; a test
checks this table against them. To update: fetch the two CSVs, replace those files, and add or
change the rows here until the test passes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Block:
    """One registry entry: what the address is, where it is defined, whether it is public."""

    network: IPNetwork
    forwardable: bool | None  # None: N/A or left empty in the registry
    globally_reachable: bool | None
    rfc: str
    what: str  # how a refusal names it: "a private address"

    def __contains__(self, address: IPAddress) -> bool:
        return address.version == self.network.version and address in self.network


# block | Forwardable | Globally Reachable | RFC | how a refusal names the block
# (True, False, N/A as in the registry; "-" where the registry leaves the cell empty)
IPV4_SPECIAL_REGISTRY = """
0.0.0.0/8          | False | False | RFC 791  | a 'this network' address
0.0.0.0/32         | False | False | RFC 1122 | an unspecified address
10.0.0.0/8         | True  | False | RFC 1918 | a private address
100.64.0.0/10      | True  | False | RFC 6598 | a shared (carrier-grade NAT) address
127.0.0.0/8        | False | False | RFC 1122 | a loopback address
169.254.0.0/16     | False | False | RFC 3927 | a link-local address
172.16.0.0/12      | True  | False | RFC 1918 | a private address
192.0.0.0/24       | False | False | RFC 6890 | an IETF protocol assignment
192.0.0.0/29       | True  | False | RFC 7335 | an IPv4 service continuity address
192.0.0.8/32       | False | False | RFC 7600 | the IPv4 dummy address
192.0.0.9/32       | True  | True  | RFC 7723 | the PCP anycast address
192.0.0.10/32      | True  | True  | RFC 8155 | the TURN anycast address
192.0.0.170/32     | False | False | RFC 8880 | a NAT64/DNS64 discovery address
192.0.0.171/32     | False | False | RFC 8880 | a NAT64/DNS64 discovery address
192.0.2.0/24       | False | False | RFC 5737 | a documentation address
192.31.196.0/24    | True  | True  | RFC 7535 | an AS112 address
192.52.193.0/24    | True  | True  | RFC 7450 | an AMT address
192.88.99.0/24     | -     | -     | RFC 7526 | a deprecated 6to4 relay address
192.88.99.2/32     | True  | False | RFC 6751 | the 6a44 relay anycast address
192.168.0.0/16     | True  | False | RFC 1918 | a private address
192.175.48.0/24    | True  | True  | RFC 7534 | an AS112 address
198.18.0.0/15      | True  | False | RFC 2544 | a benchmarking address
198.51.100.0/24    | False | False | RFC 5737 | a documentation address
203.0.113.0/24     | False | False | RFC 5737 | a documentation address
240.0.0.0/4        | False | False | RFC 1112 | a reserved address
255.255.255.255/32 | False | False | RFC 919  | the broadcast address
"""

IPV6_SPECIAL_REGISTRY = """
::1/128            | False | False | RFC 4291 | a loopback address
::/128             | False | False | RFC 4291 | an unspecified address
::ffff:0:0/96      | False | False | RFC 4291 | an IPv4-mapped address
64:ff9b::/96       | True  | True  | RFC 6052 | a NAT64 address
64:ff9b:1::/48     | True  | False | RFC 8215 | a local-use NAT64 address
100::/64           | True  | False | RFC 6666 | a discard-only address
100:0:0:1::/64     | False | False | RFC 9780 | a dummy IPv6 address
2001::/23          | False | False | RFC 2928 | an IETF protocol assignment
2001::/32          | True  | N/A   | RFC 4380 | a Teredo tunnel address
2001:1::1/128      | True  | True  | RFC 7723 | the PCP anycast address
2001:1::2/128      | True  | True  | RFC 8155 | the TURN anycast address
2001:1::3/128      | True  | True  | RFC 9665 | the DNS-SD SRP anycast address
2001:2::/48        | True  | False | RFC 5180 | a benchmarking address
2001:3::/32        | True  | True  | RFC 7450 | an AMT address
2001:4:112::/48    | True  | True  | RFC 7535 | an AS112 address
2001:10::/28       | -     | -     | RFC 4843 | a deprecated ORCHID address
2001:20::/28       | True  | True  | RFC 7343 | an ORCHIDv2 address
2001:30::/28       | True  | True  | RFC 9374 | a drone remote ID address
2001:db8::/32      | False | False | RFC 3849 | a documentation address
2002::/16          | True  | N/A   | RFC 3056 | a 6to4 tunnel address
2620:4f:8000::/48  | True  | True  | RFC 7534 | an AS112 address
3fff::/20          | False | False | RFC 9637 | a documentation address
5f00::/16          | True  | False | RFC 9602 | a segment routing address
fc00::/7           | True  | False | RFC 4193 | a private address
fe80::/10          | False | False | RFC 4291 | a link-local address
"""

# Not in the special-purpose registries: the address space registries' multicast blocks and
# IPv6 site-local (deprecated, still routed by some stacks).
OTHER_BLOCKS = """
224.0.0.0/4        | N/A   | False | RFC 5771 | a multicast address
ff00::/8           | N/A   | False | RFC 4291 | a multicast address
fec0::/10          | N/A   | False | RFC 3879 | a site-local address
"""


def _flag(cell: str) -> bool | None:
    return {"True": True, "False": False}.get(cell)  # N/A and "-": None


def _blocks(table: str) -> tuple[Block, ...]:
    rows = (line.split("|") for line in table.strip().splitlines())
    return tuple(
        Block(ipaddress.ip_network(cidr), _flag(fwd), _flag(glob), rfc, what)
        for cidr, fwd, glob, rfc, what in ([cell.strip() for cell in row] for row in rows)
    )


IPV4_SPECIAL = _blocks(IPV4_SPECIAL_REGISTRY)
IPV6_SPECIAL = _blocks(IPV6_SPECIAL_REGISTRY)
TABLE = IPV4_SPECIAL + IPV6_SPECIAL + _blocks(OTHER_BLOCKS)
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")

# Instance metadata and host services of the clouds: credentials live behind these.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Google Cloud, Azure, Oracle, OpenStack, DigitalOcean, ...
        "169.254.169.123",  # AWS time sync
        "169.254.169.253",  # AWS DNS resolver
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "169.254.0.23",  # Tencent Cloud
        "169.254.42.42",  # Scaleway
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "fd00:ec2::254",  # AWS, IPv6
        "fd00:ec2::23",  # AWS EKS pod identity, IPv6
        "fd00:ec2::123",  # AWS time sync, IPv6
        "fd00:ec2::253",  # AWS DNS resolver, IPv6
        "fd20:ce::254",  # Google Cloud, IPv6
    )
)
# Names that mean this machine, a private network or a metadata server: refused without
# asking DNS (a name that resolves to such an address is refused anyway when resolved).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.azure.internal",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Special-use domains (IANA registry; `.internal` reserved for private use by ICANN, 2024).
LOCAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".home.arpa",
    ".ipv4only.arpa",
    ".resolver.arpa",
    ".invalid",
    ".onion",
    ".alt",
)


def block_of(address: IPAddress) -> Block | None:
    """The most specific table entry holding `address`, or None."""
    found = [b for b in TABLE if address in b]
    return max(found, key=lambda b: b.network.prefixlen) if found else None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address wraps: mapped, compatible, NAT64, 6to4 or Teredo
    (the client's, de-obfuscated), else None."""
    number = int(address)
    low32 = ipaddress.IPv4Address(number & 0xFFFFFFFF)
    if number >> 32 == 0xFFFF or (number >> 32 == 0 and number > 1):  # ::ffff:v4, ::v4
        return low32
    if address in _NAT64 or address in _NAT64_LOCAL:
        return low32
    if address in _SIXTOFOUR:
        return ipaddress.IPv4Address((number >> 80) & 0xFFFFFFFF)
    if address in _TEREDO:
        return ipaddress.IPv4Address(~number & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused ("a loopback address"), or None when it is a
    public address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if inner is not None:
        inner_problem = address_problem(inner)
        if inner_problem:
            return f"{inner_problem}: {inner} wrapped in IPv6"
    block = block_of(address)
    if block is not None:
        if block.globally_reachable:
            return None
        return f"{block.what} ({block.rfc})"
    if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST_V6:
        if inner is not None:
            return "an IPv4-compatible address (deprecated, RFC 4291)"
        return "outside IPv6 global unicast space (2000::/3)"
    return None


def name_problem(name: str) -> str | None:
    """Why a (normalized) host name is refused without resolving it, or None."""
    if name in METADATA_NAMES:
        return "names the cloud metadata server"
    if name in LOCAL_NAMES or ("." + name).endswith(LOCAL_SUFFIXES):
        return "names this machine or a private network"
    return None
