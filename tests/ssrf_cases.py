"""The SSRF table: hostile links by family, and the loopback harness they are tried against.

Used by tests/test_ssrf.py and bench/ssrf.py. Every case is tried three ways:

- as the link a job starts from and as a later hop (svp.media.urlguard.check_url), with a
  resolver that answers the canary's address (127.0.0.1) for every name: the worst case, an
  attacker who controls DNS;
- as the target of a redirect from an admitted loopback server, fetched through the real
  egress proxy by the product's own HTTP client (svp.media.images.fetch);
- (slow) the same redirect downloaded by real yt-dlp through download().

Traffic stays on loopback whatever the policy decides: the proxy's resolver answers 127.0.0.1
and its connector sends every connection but the redirector's to the canary, a loopback
server that counts the connections it accepts. A policy bug shows up as a canary connection,
never as a packet to another address.
"""

from __future__ import annotations

import csv
import ipaddress
import re
import socket
import socketserver
import threading
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
CANARY_IP = "127.0.0.1"


@dataclass(frozen=True)
class Case:
    family: str
    url: str


# -- the IANA registries, as IANA publishes them --------------------------------------------
def _flag(cell: str) -> bool | None:
    """'True', 'False [1]', 'N/A [2]', '' -> True, False, None."""
    return {"True": True, "False": False}.get(cell.split("[")[0].strip())


def registry(version: int) -> list[dict]:
    """tests/data/iana-ipv{4,6}-special-registry.csv: one dict per address block."""
    rows = []
    with (DATA / f"iana-ipv{version}-special-registry.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            rfcs = {f"RFC {n}" for n in re.findall(r"RFC\s*(\d+)", row["RFC"])}
            for cidr in row["Address Block"].split(","):  # two blocks share a row at times
                rows.append(
                    {
                        "network": ipaddress.ip_network(cidr.split("[")[0].strip()),
                        "name": row["Name"],
                        "rfcs": rfcs,
                        "forwardable": _flag(row["Forwardable"]),
                        "globally_reachable": _flag(row["Globally Reachable"]),
                    }
                )
    return rows


def first_middle_last(network) -> list:
    first = network.network_address
    return [first, first + network.num_addresses // 2, network.broadcast_address]


def _host(address) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


# -- the cases --------------------------------------------------------------------------------
TARGETS = [
    "127.0.0.1",
    "169.254.169.254",
    "10.0.0.1",
    "192.168.0.1",
    "0.0.0.0",
    "100.100.100.200",
    "192.0.0.192",
    "172.16.0.1",
]
CIRCLED = dict(zip("0123456789", "⓪①②③④⑤⑥⑦⑧⑨", strict=True))
FULLWIDTH = dict(zip("0123456789", "０１２３４５６７８９", strict=True))
MATH_BOLD = dict(zip("0123456789", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", strict=True))
ARABIC_INDIC = dict(zip("0123456789", "٠١٢٣٤٥٦٧٨٩", strict=True))


def _digits(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(c, c) for c in text)


def encodings(v4: str) -> dict[str, list[str]]:
    """Spellings of an IPv4 address that resolvers or URL parsers accept, by family."""
    a, b, c, d = (int(x) for x in v4.split("."))
    n = int(ipaddress.IPv4Address(v4))
    return {
        "decimal": [str(n), f"{a}.{b}.{c}.{d:03d}", f"{a:03d}.{b:03d}.{c:03d}.{d:03d}"],
        "octal": [
            f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
            f"0{n:o}",
            f"{a:#o}.{b}.{c}.{d}".replace("0o", "0"),
            f"00000{a:o}.{b}.{c}.{d}",
        ],
        "hex": [f"{a:#x}.{b:#x}.{c:#x}.{d:#x}", f"{n:#x}", f"{n:#010X}", f"0x{a:02x}.{b}.{c}.{d}"],
        "mixed": [
            f"{a}.{(b << 16) | (c << 8) | d}",
            f"{a}.{b}.{(c << 8) | d}",
            f"{a:#x}.{b}.{(c << 8) | d:#o}".replace("0o", "0"),
            f"{a:#o}.{(b << 16) | (c << 8) | d:#x}".replace("0o", "0"),
        ],
        "overflow": [
            str(n + 2**32),
            f"{a}.{b}.{c}.{d + 256}",
            f"{n + 2**32:#x}",
            f"{a + 256}.{b}.{c}.{d}",
            f"0{n + 2**32:o}",
        ],
        "unicode digits and dots": [
            _digits(v4, FULLWIDTH),
            v4.replace(".", "。"),
            v4.replace(".", "｡"),
            v4.replace(".", "．"),
            _digits(v4, FULLWIDTH).replace(".", "．"),
            _digits(v4, MATH_BOLD),
            _digits(v4, ARABIC_INDIC),
        ],
        "enclosed alphanumerics": [_digits(v4, CIRCLED), _digits(v4, CIRCLED).replace(".", "｡")],
    }


def cases() -> list[Case]:
    found: list[Case] = []

    def add(family: str, *urls: str) -> None:
        found.extend(Case(family, url) for url in urls)

    # Every registry entry that is not globally reachable, and the blocks outside them.
    extra = [ipaddress.ip_network(n) for n in ("224.0.0.0/4", "ff00::/8", "fec0::/10", "4000::/3")]
    for network in [
        r["network"] for r in registry(4) + registry(6) if r["globally_reachable"] is not True
    ] + extra:
        add("IANA special-purpose", *(f"http://{_host(a)}/" for a in first_middle_last(network)))

    for v4 in TARGETS:
        for family, spellings in encodings(v4).items():
            add(family, *(f"http://{s}/" for s in spellings))
        n = int(ipaddress.IPv4Address(v4))
        add(
            "IPv4 in IPv6",
            f"http://[::ffff:{v4}]/",
            f"http://[::ffff:{n >> 16:x}:{n & 0xFFFF:x}]/",
            f"http://[0:0:0:0:0:ffff:{v4}]/",
            f"http://[::{v4}]/",
            f"http://[64:ff9b::{v4}]/",
            f"http://[64:ff9b:1::{v4}]/",
            f"http://[2002:{n >> 16:x}:{n & 0xFFFF:x}::1]/",
            f"http://[2001:0:4136:e378:8000:ffff:{~n >> 16 & 0xFFFF:x}:{~n & 0xFFFF:x}]/",
        )

    add(
        "enclosed alphanumerics",
        "http://③⑧③｡②⑤⑥｡②⑤⑥｡②⑤⑦/",
        "http://④②⑤｡⑤①⓪｡④②⑤｡⑤①⓪/",
        "http://⑯⑨｡②⑤④｡⑯⑨｡②⑤④/",
        "http://①②⑦.⓪.⓪.①/",
        "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
        "http://ⓜⓔⓣⓐⓓⓐⓣⓐ.ⓖⓞⓞⓖⓛⓔ.ⓘⓝⓣⓔⓡⓝⓐⓛ/",
        "http://🄻🄾🄲🄰🄻🄷🄾🅂🅃/",
        "http://ⓁⓄⒸⒶⓁⒽⓄⓈⓉ:80/",
        "http://①②⑦.①/",
        "http://⑯⑨.②⑤④.⑯⑨.②⑤④/",
    )
    add(
        "unicode digits and dots",
        "http://０ｘ７ｆ.１/",
        "http://ｌｏｃａｌｈｏｓｔ/",
        "http://127。0。0。1:8080/",
        "http://[::ｆｆｆｆ:127.0.0.1]/",
    )

    add(
        "malformed",
        "http://[::1/",
        "http://::1]/",
        "http://[::1]x/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:-1/",
        "http://127.0.0.1:8o/",
        "http://" + "a" * 64 + ".tiktok.com/",
        "http://" + ".".join(["a" * 60] * 5) + ".com/",
        "http://a..b.tiktok.com/",
        "http://xn--/",
        "http://xn--zz-/",
        "http://-a.tiktok.com/",
        "http://a_.tiktok.com./.",
        "http://%31%32%37.0.0.1/",
        "http://127.0.0.1%2f@tiktok.com/",
        "http://[fe80::1%25eth0]/",
        "http://[::1%2561]/",
        "http://[v1.fe80::a+en1]/",
        "http://1.2.3.4.5/",
        "http://256.256.256.256/",
        "http://0x100000000/",
        "http://999999999999999999999/",
        "http://\u202e1.0.0.721/",
        "http://127.0.0.1\u200b/",
        "http://\u00adlocalhost/",
        "http://xn--localhost-/",
        "http://ａ\u0000/",
    )

    add(
        "parser confusion",
        "http://www.tiktok.com@127.0.0.1/",
        "http://127.0.0.1#@www.tiktok.com/",
        "http://www.tiktok.com#@127.0.0.1/",
        "http://127.0.0.1?@www.tiktok.com/",
        "http://www.tiktok.com?@127.0.0.1/",
        "http://www.tiktok.com\\@127.0.0.1/",
        "http://127.0.0.1\\@www.tiktok.com/",
        "http://127.0.0.1:80\\@www.tiktok.com/",
        "http://www.tiktok.com:80@127.0.0.1/",
        "http://user:pass@127.0.0.1/",
        "http://127.0.0.1%23@www.tiktok.com/",
        "http://127.0.0.1%2523@www.tiktok.com/",
        "http://www.tiktok.com&@127.0.0.1#@www.tiktok.com/",
        "http://[::1]@www.tiktok.com/",
        "http://127.0.0.1 @www.tiktok.com/",
        "http:/127.0.0.1/",
        "http:127.0.0.1/",
        "http:\\\\127.0.0.1/",
        "http:///127.0.0.1/",
        "//127.0.0.1/",
        "\\\\127.0.0.1/",
        "http://127.0.0.1\t.tiktok.com/",
        "http://127.0.0.1%09.tiktok.com/",
        "http://127.0.0.1%00.tiktok.com/",
        "HtTp://127.0.0.1/",
        "http://127.0.0.1:/",
        "http://127.0.0.1:0080/",
        "http://127.1/",
        "http://0/",
        "http://[::]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::1]/",
        "http://127.0.0.1./",
        "http://127.0.0.1.nip.io/",
        "http://localtest.me/",
        "http://www.tiktok.com.127.0.0.1.nip.io/",
        " http://127.0.0.1/",
        "http://127.0.0.1/#http://www.tiktok.com/",
        "https://www.tiktok.com\u3002127.0.0.1/",
        "http://www.tiktok.com%2f@127.0.0.1/",
        "http://www.tiktok.com;@127.0.0.1/",
        "http://www.tiktok.com\uff03@127.0.0.1/",
    )

    add(
        "non-http schemes",
        "file:///etc/passwd",
        "file://127.0.0.1/etc/passwd",
        "file:/etc/passwd",
        "FILE:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stats",
        "ftp://127.0.0.1/",
        "ftps://127.0.0.1/",
        "sftp://127.0.0.1/",
        "tftp://127.0.0.1/x",
        "ldap://127.0.0.1/",
        "ldaps://127.0.0.1/",
        "jar:http://127.0.0.1!/",
        "netdoc:///etc/passwd",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "ws://127.0.0.1/",
        "wss://127.0.0.1/",
        "smb://127.0.0.1/x",
        "telnet://127.0.0.1:23/",
        "view-source:http://127.0.0.1/",
        "php://filter/resource=x",
        "expect://id",
        "mailto:a@127.0.0.1",
        "rtsp://127.0.0.1/",
        "rtmp://127.0.0.1/",
        "mms://127.0.0.1/",
        "hls+http://127.0.0.1/x.m3u8",
        "concat:/etc/passwd|/etc/hosts",
        "subfile,,start,0,end,0,,:/etc/passwd",
        "ssh://127.0.0.1/",
        "irc://127.0.0.1/",
        "redis://127.0.0.1/",
        "chrome://settings",
        "about:blank",
        "blob:http://127.0.0.1/x",
        "ht\ttp://127.0.0.1/",
        "ttp://127.0.0.1/",
    )

    add(
        "metadata",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/computeMetadata/",
        "http://metadata.goog/",
        "http://instance-data/latest/meta-data/",
        "http://instance-data.ec2.internal/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fd20:ce::254]/",
        "http://100.100.100.200/latest/meta-data/",
        "http://192.0.0.192/opc/v2/instance/",
        "http://169.254.170.2/v2/credentials",
        "http://169.254.170.23/v1/credentials",
        "http://168.63.129.16/machine",
        "http://169.254.0.23/",
        "http://169.254.42.42/conf",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://metadata.google.internal./",
        "http://METADATA.GOOGLE.INTERNAL/",
        "http://169.254.169.254.nip.io/",
        "http://metadata.tencentyun.com/",
        "http://kubernetes.default.svc/",
        "http://printer.local/",
        "http://db.internal/",
        "http://nas.home.arpa/",
        "http://ipv4only.arpa/",
        "http://app.localhost/",
    )
    return found


# -- the loopback harness ---------------------------------------------------------------------
class Canary:
    """A loopback TCP server that counts every connection it accepts (and answers 200)."""

    def __init__(self) -> None:
        canary = self
        self.connections = 0
        self._lock = threading.Lock()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with canary._lock:
                    canary.connections += 1
                try:
                    self.request.settimeout(2)
                    self.request.recv(65536)
                    self.request.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary"
                    )
                except OSError:
                    pass

        self.server = socketserver.ThreadingTCPServer((CANARY_IP, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Redirector:
    """An admitted loopback server: GET /r/<n> answers 302 to case n's URL, raw bytes and all
    (as a hostile server would send them); any other path 404."""

    def __init__(self, table: list[Case]) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(65536).decode("latin-1")
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                found = re.search(r" (?:http://[^/]+)?/r/(\d+) ", line)
                if found and int(found.group(1)) < len(table):
                    location = table[int(found.group(1))].url.encode("utf-8", "surrogatepass")
                    head = b"HTTP/1.1 302 Found\r\nLocation: " + location
                    self.wfile.write(head + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                else:
                    self.wfile.write(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )

        self.server = socketserver.ThreadingTCPServer((CANARY_IP, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{CANARY_IP}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def canary_resolver(host: str, port: int) -> list[str]:
    """Every name resolves to the canary's address: the attacker owns DNS."""
    return [CANARY_IP]


def loopback_connector(redirector: Redirector, canary: Canary):
    """The proxy's way out: the redirector's own address goes to it, everything else (which
    the policy should have refused) to the canary. Never a socket to another host."""

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        if address == (CANARY_IP, redirector.port):
            return socket.create_connection(address, timeout)
        return socket.create_connection((CANARY_IP, canary.port), timeout)

    return connect


# -- running the table ------------------------------------------------------------------------
@dataclass
class Outcome:
    case: Case
    way: str  # "first link", "later hop", "redirect via proxy", "redirect via yt-dlp"
    verdict: str  # "refused", "refused by the client", "stayed on the admitted host", ...
    reason: str
    canary_hits: int = 0

    @property
    def refused(self) -> bool:
        return self.verdict.startswith("refused") and self.canary_hits == 0


def decide(case: Case, policy, *, first: bool) -> Outcome:
    """check_url's verdict, with every name resolving to the canary."""
    from svp.errors import TransientError
    from svp.media.urlguard import Refused, check_url

    way = "first link" if first else "later hop"
    try:
        target = check_url(case.url, policy, canary_resolver, first=first)
    except Refused as exc:
        return Outcome(case, way, "refused", exc.reason)
    except TransientError as exc:
        return Outcome(case, way, "transient (would be retried)", exc.reason)
    except Exception as exc:  # noqa: BLE001 - a crash: the bug this table exists to catch
        return Outcome(case, way, f"crashed ({type(exc).__name__})", str(exc))
    return Outcome(case, way, "ALLOWED", f"would connect to {target.addresses}")


def _exchange(proxy_url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """Send one raw request to the proxy: (status, head, body) of its answer."""
    port = int(proxy_url.rsplit(":", 1)[1])
    with socket.create_connection((CANARY_IP, port), timeout=5) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(status.group(1)) if status else 0), head, body


def redirect_via_raw_client(index: int, case: Case, redirector, canary, proxy) -> Outcome:
    """A naive client behind the proxy: it follows the redirect by sending the Location bytes
    as they came (a CONNECT for https), so the proxy parses whatever the attacker wrote."""
    before = canary.connections
    way = "redirect via proxy (raw client)"
    _, head, _ = _exchange(
        proxy.url,
        f"GET {redirector.base}/r/{index} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{redirector.port}\r\n\r\n".encode(),
    )
    found = re.search(rb"\r\nLocation: ([^\r\n]*)", head)
    if not found:
        return Outcome(case, way, "no redirect", head[:100].decode("latin-1"))
    location = found.group(1)
    if location[:8].lower() == b"https://":
        authority = location[8:].split(b"/")[0]
        request = b"CONNECT " + authority + b" HTTP/1.1\r\nHost: " + authority + b"\r\n\r\n"
    else:
        request = b"GET " + location + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, body = _exchange(proxy.url, request)
    verdict = {403: "refused", 404: "stayed on the admitted host"}.get(status, f"HTTP {status}")
    return Outcome(case, way, verdict, body.decode("utf-8", "replace"), canary.connections - before)


def redirect_via_fetch(index: int, case: Case, redirector, canary, proxy) -> Outcome:
    """GET the redirector's /r/<index> through the proxy with the product's HTTP client
    (svp.media.images.fetch), which follows redirects itself."""
    from svp.media.images import FetchError, fetch

    before = canary.connections
    way = "redirect via proxy (svp's client)"
    try:
        response = fetch(f"{redirector.base}/r/{index}", proxy.url, max_bytes=65536, timeout=5)
        verdict, reason = f"FETCHED ({response.status})", response.url
    except FetchError as exc:
        text = str(exc)
        if exc.status == 403 or "Tunnel connection failed: 403" in text:
            verdict = "refused"
        elif exc.status == 404:
            verdict = "stayed on the admitted host"  # a relative Location: the redirector again
        elif text.startswith(("refused:", "not a supported link")):
            verdict = "refused by the client"
        else:
            verdict = "failed otherwise"
        reason = proxy.refusals[-1] if verdict == "refused" and proxy.refusals else text
    except Exception as exc:  # noqa: BLE001 - a crash: the bug this table exists to catch
        verdict, reason = f"crashed ({type(exc).__name__})", str(exc)
    return Outcome(case, way, verdict, reason, canary.connections - before)


def redirect_through_ytdlp(index: int, case: Case, redirector, canary, dest: Path) -> Outcome:
    """download() of the redirector's /r/<index>: real yt-dlp in its child, behind the proxy."""
    from svp.config import load_settings
    from svp.errors import PermanentError, StageError
    from svp.media.download import download

    settings = load_settings(
        {"SVP_ALLOWED_HOSTS": f"127.0.0.1:{redirector.port}", "SVP_MAX_MB": "1"}, dotenv=None
    )
    before = canary.connections
    way = "redirect via yt-dlp"
    try:
        download(
            f"{redirector.base}/r/{index}",
            dest,
            settings,
            canary_resolver,
            connect=loopback_connector(redirector, canary),
        )
        verdict, reason = "DOWNLOADED", ""
    except PermanentError as exc:
        text = exc.reason
        if "not found" in text and "404" in text:
            verdict = "stayed on the admitted host"
        else:
            verdict = (
                "refused"
                if re.search(r"refused|not a supported|not a web link", text)
                else ("refused by the client")
            )
        reason = text
    except StageError as exc:
        verdict, reason = "transient (would be retried)", exc.reason
    return Outcome(case, way, verdict, reason, canary.connections - before)
