"""What the downloader may fetch, decided once per URL and enforced again on every connection.

Policy
------
- Only ``http`` and ``https``. Everything else (``file:``, ``ftp:``, ``data:``, ...) is refused.
- The link a job starts from must be on a supported platform (TikTok incl. vm./vt. short links
  and tiktokv.com, Instagram, YouTube incl. youtu.be and youtubekids.com) or on a host the
  operator admits in ``SVP_ALLOWED_HOSTS`` (comma-separated ``host[:port]``; without a port
  every port of that host is admitted).
- Every host contacted, the first one and every later one (redirects, API calls, CDNs,
  subtitles, images), must resolve only to public addresses, as svp.media.addresses decides
  from IANA's special-purpose registries and the known cloud metadata addresses: loopback,
  private, link-local, metadata, carrier-grade NAT, documentation, multicast, reserved and
  unspecified addresses are refused, in any spelling (``2130706433``, ``0x7f.1``,
  ``①②⑦｡⓪｡⓪｡①``, ``[::ffff:127.0.0.1]``, 6to4, NAT64 and Teredo wrappers), and under any name
  that resolves to them; names of this machine and of metadata servers are refused unresolved.
  An address whose leading zeros make it two addresses (octal to C, decimal to others) is
  refused. An admitted host is fetched whatever it resolves to (tests and self-hosted media
  live on loopback and private networks); a different port of the same host is not admitted
  unless listed.
- A URL no parser makes sense of (bad IDNA, overlong labels, an address out of range) is one
  permanent refusal with the reason, never an exception that would be retried.

How it is enforced: every connection a download makes goes through svp.media.egress's proxy,
which applies these checks to each request, redirect hop and tunnel. The decision functions
take the resolver as a parameter, so the whole policy is testable with no network at all.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from svp.config import host_entry
from svp.errors import PermanentError, TransientError
from svp.media.addresses import IPAddress, address_problem, name_problem

log = logging.getLogger("svp.urlguard")

# host, port -> the addresses the name resolves to (strings); raises OSError when it cannot.
Resolver = Callable[[str, int], list[str]]
# (address, port), timeout -> a connected socket, like socket.create_connection.
Connector = Callable[[tuple[str, int], float], socket.socket]

SCHEMES = {"http": 80, "https": 443}
# tiktokv.com: TikTok's share links (www.tiktokv.com/share/video/ID); youtubekids.com: YouTube's
# videos under YouTube Kids. yt-dlp's TikTok and YouTube extractors read both.
PLATFORM_DOMAINS = (
    "tiktok.com",
    "tiktokv.com",
    "instagram.com",
    "youtube.com",
    "youtubekids.com",
    "youtu.be",
)
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class Refused(PermanentError):
    """A URL or host the policy does not allow: the job fails with this reason, no retry."""


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- parsing ---------------------------------------------------------------------------------
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def _inet_aton(host: str, octal: bool = True) -> ipaddress.IPv4Address | None:
    """The IPv4 forms C's inet_aton (and so getaddrinfo) accepts: 1-4 parts, each decimal,
    octal (leading 0) or hex (0x); the last part fills the remaining bytes. With `octal`
    False, leading zeros are read as decimal, as some other parsers do.
    Returns None when `host` is not such a form; raises ValueError when it is one, out of range."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part.lower().startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif octal and len(part) > 1 and part.startswith("0"):
            if not all(c in "01234567" for c in part):
                raise ValueError(f"{host!r} is not a valid address")
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(f"{host!r} is not a valid address")
    number = 0
    for v in head:
        number = number << 8 | v
    number = number << 8 * (4 - len(head)) | last
    return ipaddress.IPv4Address(number)


def ip_literal(host: str) -> IPAddress | None:
    """The address a host string spells, in any form a resolver would accept, else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    return _inet_aton(bare)


def _refuse_ambiguous(host: str, address: IPAddress) -> None:
    """Leading zeros mean octal to C's resolver and decimal to other parsers: a host such as
    010.0.0.1 is two addresses (8.0.0.1 and 10.0.0.1); whichever a client reads, it is refused."""
    if not re.search(r"(^|\.)0[0-9]", host):
        return
    try:
        decimal = _inet_aton(host, octal=False)
    except ValueError:  # out of range when read as decimal: only the octal reading exists
        return
    if decimal is not None and decimal != address:
        readings = " or ".join(
            f"{a} ({problem})" if (problem := address_problem(a)) else str(a)
            for a in (address, decimal)
        )
        raise Refused(
            f"refused: {host} is an ambiguous address (leading zeros): {readings};"
            " write it without leading zeros"
        )


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, IDNA for non-ASCII names, canonical form for addresses.

    Raises Refused for anything that is neither a host name nor an address. An address spelled
    with Unicode digits or dots (``①②⑦｡⓪｡⓪｡①``) is read as the address it spells, as the
    clients that fetch it would; one out of range (``③⑧③｡②⑤⑥｡②⑤⑥｡②⑤⑦``) is refused."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.rstrip(".")
    if not host.isascii():
        try:  # IDNA 2003, as yt-dlp and urllib encode a name: NFKC, fullwidth dots, case
            host = host.encode("idna").decode("ascii").lower().rstrip(".")
        except UnicodeError:
            raise Refused(f"not a supported link: {host[:80]!r} is not a valid host name") from None
    try:
        address = ip_literal(host)
    except ValueError as exc:
        raise Refused(f"not a supported link: {exc}") from None
    if address is not None:
        _refuse_ambiguous(host, address)
        return str(address)
    if len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
        raise Refused(f"not a supported link: {host[:80]!r}... is too long for a host name")
    if not _HOST_NAME.fullmatch(host):
        raise Refused(f"not a supported link: {host[:80]!r} is not a valid host name")
    return host


# -- policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """Admitted hosts (`host`, `port` or None for any port) and the supported platforms."""

    admitted: frozenset[tuple[str, int | None]] = frozenset()
    platforms: tuple[str, ...] = PLATFORM_DOMAINS

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Policy:
        return cls(frozenset(parse_host_entry(e) for e in entries if e.strip()))

    def admits(self, host: str, port: int) -> bool:
        return (host, port) in self.admitted or (host, None) in self.admitted

    def is_platform(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.platforms)


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` (as in SVP_ALLOWED_HOSTS), its host
    normalized; ValueError if not."""
    host, port = host_entry(entry)
    try:
        return normalize_host(host), port
    except Refused as exc:
        raise ValueError(exc.reason.removeprefix("not a supported link: ")) from None


@dataclass(frozen=True)
class Target:
    """A checked destination: connect only to `addresses`."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    admitted: bool = False


def check_host(
    host: str,
    port: int,
    policy: Policy,
    resolve: Resolver = system_resolve,
    *,
    first: bool = False,
    scheme: str = "https",
) -> Target:
    """Decide on one destination; raise Refused (or TransientError when DNS does not answer).

    `first`: the link a job starts from, which must also be a supported platform or admitted.
    """
    name = normalize_host(host)
    shown = f"[{name}]" if ":" in name else name
    where = f"{shown}:{port}" if port not in SCHEMES.values() else shown
    literal = ip_literal(name)
    if policy.admits(name, port):
        if literal is not None:
            return Target(scheme, name, port, (str(literal),), admitted=True)
        try:
            return Target(scheme, name, port, tuple(resolve(name, port)), admitted=True)
        except OSError as exc:
            raise TransientError(f"could not resolve {name}: {exc}") from exc
    if literal is not None and (problem := address_problem(literal)):
        raise Refused(f"refused: {where} is {problem}; only public hosts are fetched")
    if literal is None and (problem := name_problem(name)):
        raise Refused(f"refused: {where} {problem}")
    if first and not policy.is_platform(name):
        raise Refused(
            f"refused: {where} is not a supported platform (TikTok, Instagram, YouTube Shorts)"
            " and not in SVP_ALLOWED_HOSTS"
        )
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(name, port)]
        except OSError as exc:
            raise TransientError(f"could not resolve {name}: {exc}") from exc
        if not addresses:
            raise TransientError(f"could not resolve {name}: no address")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            via = "" if literal is not None else f" (it resolves to {address})"
            raise Refused(f"refused: {where} is {problem}{via}; only public hosts are fetched")
    return Target(scheme, name, port, tuple(str(a) for a in addresses))


def check_url(
    url: str, policy: Policy, resolve: Resolver = system_resolve, *, first: bool = True
) -> Target:
    """Decide on a URL: scheme, shape, host and every address it resolves to.

    Whatever the URL holds, the answer is a Target, Refused (permanent, with the reason) or
    TransientError (DNS did not answer): a parser choking on a crafted URL is a refusal too,
    never an exception that would be retried."""
    try:
        return _check_url(url, policy, resolve, first)
    except (ValueError, UnicodeError, TypeError) as exc:
        raise Refused(f"not a supported link: {shown_url(url)} ({exc})") from None


def shown_url(url: object) -> str:
    """A URL quoted for a message, cut at 200 characters."""
    text = repr(url)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_url(url: str, policy: Policy, resolve: Resolver, first: bool) -> Target:
    if not isinstance(url, str) or not url.strip():
        raise Refused("not a web link: empty (expected an http(s) URL)")
    url = url.strip()
    shown = shown_url(url)
    if re.search(r"[\s\\\x00-\x1f\x7f]", url):
        raise Refused(f"not a web link: {shown} (spaces, backslashes or control characters)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a web link: {shown} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme and scheme not in SCHEMES and (parts.netloc or scheme in ("file", "data")):
        raise Refused(f"refused: {scheme}: links are not fetched ({shown}), only http(s)")
    if scheme not in SCHEMES or not parts.hostname:
        raise Refused(f"not a web link: {shown} (expected an http(s) URL)")
    if parts.username is not None or parts.password is not None:
        raise Refused(
            f"refused: {shown} carries credentials; links with user:password@ are not fetched"
        )
    return check_host(
        parts.hostname, port or SCHEMES[scheme], policy, resolve, first=first, scheme=scheme
    )
