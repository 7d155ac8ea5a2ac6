"""The URL guard: its decisions (no network at all), then the egress proxy on loopback only.

Safety of the tests themselves: private and public addresses appear only in the decision table,
which is evaluated with a fake resolver and opens no socket. Every test that makes connections
uses 127.0.0.1 servers and a resolver that can only ever answer 127.0.0.1, so even a broken
guard could not send traffic anywhere but loopback.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from svp.errors import PermanentError, TransientError
from svp.media.egress import EgressProxy
from svp.media.urlguard import (
    Policy,
    Refused,
    check_url,
    ip_literal,
    parse_host_entry,
)

# A resolver for decisions only: it never touches the network.
NAMES = {
    "www.tiktok.com": ["23.15.10.1"],
    "vm.tiktok.com": ["23.15.10.2"],
    "vt.tiktok.com": ["23.15.10.3"],
    "www.instagram.com": ["157.240.1.174", "2a03:2880:f12f:83:face:b00c:0:25de"],
    "youtube.com": ["142.250.1.1"],
    "www.youtube.com": ["142.250.1.2"],
    "youtu.be": ["142.250.1.3"],
    "m.youtube.com": ["142.250.1.4"],
    "www.tiktokv.com": ["23.15.10.4"],
    "www.youtubekids.com": ["142.250.1.5"],
    "rebind.tiktok.com": ["127.0.0.1"],  # a platform name an attacker made resolve to loopback
    "mixed.tiktok.com": ["23.15.10.9", "10.0.0.5"],  # one public, one private answer
    "media.example": ["127.0.0.1"],
    "cdn.example": ["93.184.216.34"],
    "nas.example": ["192.168.1.20"],
}


def fake_resolve(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(f"no such name: {host}")
    return NAMES[host]


def loopback_only(host: str, port: int) -> list[str]:
    """For tests that connect: whatever the name, the answer is loopback."""
    return ["127.0.0.1"]


PLATFORMS_ONLY = Policy()
ADMITTED = Policy.from_entries(["media.example", "127.0.0.1:8080", "[::1]:9000", "nas.example"])

ALLOWED = [
    ("https://www.tiktok.com/@chef/video/7301234567890123456", PLATFORMS_ONLY),
    ("https://vm.tiktok.com/ZMabc123/", PLATFORMS_ONLY),
    ("https://vt.tiktok.com/ZSabc123/", PLATFORMS_ONLY),
    ("https://www.tiktok.com/@chef/photo/7301234567890123456", PLATFORMS_ONLY),
    ("https://www.instagram.com/reel/C1a2b3c4d5e/", PLATFORMS_ONLY),
    ("https://www.instagram.com/p/C1a2b3c4d5e/?img_index=2", PLATFORMS_ONLY),
    ("https://www.youtube.com/shorts/abcdefghijk", PLATFORMS_ONLY),
    ("https://m.youtube.com/shorts/abcdefghijk", PLATFORMS_ONLY),
    ("https://youtu.be/abcdefghijk", PLATFORMS_ONLY),
    ("https://www.tiktokv.com/share/video/7301234567890123456", PLATFORMS_ONLY),
    ("https://www.youtubekids.com/watch?v=abcdefghijk", PLATFORMS_ONLY),
    ("HTTPS://WWW.TIKTOK.COM./@chef/video/1", PLATFORMS_ONLY),  # case, trailing dot
    ("http://127.0.0.1:8080/clip.mp4", ADMITTED),  # admitted loopback with its port
    ("http://[::1]:9000/clip.mp4", ADMITTED),
    ("http://media.example/clip.mp4", ADMITTED),  # admitted name, any port
    ("http://media.example:8443/clip.mp4", ADMITTED),
    ("http://nas.example/post.html", ADMITTED),  # admitted private address
]

REFUSED = [
    # schemes
    ("file:///etc/passwd", PLATFORMS_ONLY, r"file: links are not fetched"),
    ("ftp://www.tiktok.com/video.mp4", PLATFORMS_ONLY, r"ftp: links are not fetched"),
    ("gopher://127.0.0.1:70/", ADMITTED, r"gopher: links are not fetched"),
    ("data:text/html,<h1>hi</h1>", PLATFORMS_ONLY, r"data: links are not fetched"),
    ("javascript:alert(1)", PLATFORMS_ONLY, r"not a web link"),
    ("//www.tiktok.com/@a/video/1", PLATFORMS_ONLY, r"not a web link"),
    ("www.tiktok.com/@a/video/1", PLATFORMS_ONLY, r"not a web link"),
    ("hello world", PLATFORMS_ONLY, r"not a web link"),
    # not a platform, not admitted
    ("https://example.com/video.mp4", PLATFORMS_ONLY, r"not a supported platform"),
    ("https://tiktok.com.evil.example/video/1", PLATFORMS_ONLY, r"not a supported platform"),
    ("https://eviltiktok.com/video/1", PLATFORMS_ONLY, r"not a supported platform"),
    ("https://eviltiktokv.com/share/video/1", PLATFORMS_ONLY, r"not a supported platform"),
    ("https://youtubekids.com.evil.example/", PLATFORMS_ONLY, r"not a supported platform"),
    ("https://www.tiktok.com@evil.example/", PLATFORMS_ONLY, r"credentials"),
    ("http://127.0.0.1\\@www.tiktok.com/", PLATFORMS_ONLY, r"backslashes"),
    # loopback in every spelling
    ("http://127.0.0.1/", PLATFORMS_ONLY, r"127\.0\.0\.1 is a loopback address"),
    ("http://93.184.216.34/video.mp4", PLATFORMS_ONLY, r"not a supported platform"),
    ("http://127.0.0.1:8081/", ADMITTED, r"127\.0\.0\.1:8081 is a loopback address"),
    ("http://2130706433:8081/", ADMITTED, r"127\.0\.0\.1:8081 is a loopback address"),
    ("http://0177.0.0.1:8081/", ADMITTED, r"ambiguous address .*127\.0\.0\.1 \(a loopback address"),
    ("http://010.0.0.1/", ADMITTED, r"ambiguous address .*8\.0\.0\.1 or 10\.0\.0\.1 \(a private"),
    # crafted hosts: one clear refusal, never a crash
    ("http://③⑧③｡②⑤⑥｡②⑤⑥｡②⑤⑦/", PLATFORMS_ONLY, r"not a supported link: '383\.256\.256\.257'"),
    ("http://④②⑤｡⑤①⓪｡④②⑤｡⑤①⓪/", PLATFORMS_ONLY, r"not a supported link: .* not a valid address"),
    ("http://①②⑦｡⓪｡⓪｡①/", PLATFORMS_ONLY, r"127\.0\.0\.1 is a loopback address"),
    ("http://１２７．０．０．１/", PLATFORMS_ONLY, r"127\.0\.0\.1 is a loopback address"),
    ("http://xn--/", PLATFORMS_ONLY, r"not a supported link: 'xn--' is not a valid host name"),
    ("http://" + "a" * 64 + ".tiktok.com/", PLATFORMS_ONLY, r"too long for a host name"),
    ("http://a..b.tiktok.com/", PLATFORMS_ONLY, r"not a valid host name"),
    ("http://\u202e1.0.0.721/", PLATFORMS_ONLY, r"not a valid host name"),
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", PLATFORMS_ONLY, r"localhost names this machine"),
    ("http://0x7f.1:8081/", ADMITTED, r"127\.0\.0\.1:8081 is a loopback address"),
    ("http://127.1:8081/", ADMITTED, r"127\.0\.0\.1:8081 is a loopback address"),
    ("http://017700000001:8081/", ADMITTED, r"127\.0\.0\.1:8081 is a loopback address"),
    ("http://[::1]:8081/", ADMITTED, r"\[::1\]:8081 is a loopback address"),
    ("http://[::ffff:127.0.0.1]:8081/", ADMITTED, r"loopback address"),
    ("http://[::ffff:7f00:1]:8081/", ADMITTED, r"loopback address"),
    ("http://localhost:8081/", ADMITTED, r"names this machine"),
    ("https://rebind.tiktok.com/@a/video/1", PLATFORMS_ONLY, r"resolves to 127\.0\.0\.1"),
    ("https://mixed.tiktok.com/@a/video/1", PLATFORMS_ONLY, r"resolves to 10\.0\.0\.5"),
    ("http://0.0.0.0:8081/", ADMITTED, r"unspecified address"),
    ("http://0:8081/", ADMITTED, r"unspecified address"),
    ("http://999.1.1.1/", ADMITTED, r"not a valid address"),
    ("http://08.0.0.1/", ADMITTED, r"not a valid address"),
]

# Later hops (redirects, API calls, CDNs): any public host, but never a non-public address.
HOPS = [
    ("https://cdn.example/v.mp4", None),
    ("https://media.example/v.mp4", None),  # admitted
    ("http://127.0.0.1:8080/v.mp4", None),  # admitted with this port
    ("http://127.0.0.1:8081/v.mp4", r"loopback"),  # same host, port not admitted
    ("http://10.1.2.3/v.mp4", r"private address"),
    ("http://172.16.0.1/v.mp4", r"private address"),
    ("http://192.168.0.10/v.mp4", r"private address"),
    ("http://169.254.169.254/computeMetadata/v1/", r"cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", r"metadata server"),
    ("http://[fd00:ec2::254]/latest/meta-data/", r"cloud metadata address"),
    ("http://169.254.10.10/", r"link-local address"),
    ("http://[fe80::1]/", r"link-local address"),
    ("http://[fc00::1]/", r"private address"),
    ("http://100.64.0.1/", r"shared \(carrier-grade NAT\) address"),
    ("http://224.0.0.1/", r"multicast address"),
    ("http://[2002:7f00:1::]/", r"loopback"),  # 6to4 around 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/", r"cloud metadata address"),  # NAT64 around 169.254.169.254
    ("ftp://cdn.example/v.mp4", r"ftp: links are not fetched"),
]


@pytest.mark.parametrize(("url", "policy"), ALLOWED)
def test_good_links_are_allowed(url, policy):
    target = check_url(url, policy, fake_resolve, first=True)
    assert target.addresses


@pytest.mark.parametrize(("url", "policy", "reason"), REFUSED)
def test_hostile_links_are_refused_before_any_request(url, policy, reason):
    with pytest.raises(Refused, match=reason) as refused:
        check_url(url, policy, fake_resolve, first=True)
    assert isinstance(refused.value, PermanentError)  # fails the job once, no retry


@pytest.mark.parametrize(("url", "reason"), HOPS)
def test_every_later_hop_is_checked_again(url, reason):
    if reason is None:
        check_url(url, ADMITTED, fake_resolve, first=False)
    else:
        with pytest.raises(Refused, match=reason):
            check_url(url, ADMITTED, fake_resolve, first=False)


def test_a_name_that_does_not_resolve_is_a_transient_failure():
    with pytest.raises(TransientError, match="could not resolve"):
        check_url("https://gone.tiktok.com/@a/video/1", PLATFORMS_ONLY, fake_resolve)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("::1", ("::1", None)),
        ("Media.Example.", ("media.example", None)),
        ("2130706433:80", ("127.0.0.1", 80)),
    ],
)
def test_allowed_host_entries(entry, parsed):
    assert parse_host_entry(entry) == parsed


@pytest.mark.parametrize("entry", ["http://x/", "host:99999", "a b", "[::1", "host:port"])
def test_bad_allowed_host_entries_are_rejected(entry):
    with pytest.raises(ValueError):
        parse_host_entry(entry)


def test_address_spellings():
    assert str(ip_literal("2130706433")) == "127.0.0.1"
    assert str(ip_literal("0x7f000001")) == "127.0.0.1"
    assert str(ip_literal("0177.0.0.01")) == "127.0.0.1"
    assert ip_literal("tiktok.com") is None


def test_bad_allowed_hosts_fail_configuration_with_the_variable_name():
    from svp.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SVP_ALLOWED_HOSTS='http://x/'"):
        load_settings({"SVP_ALLOWED_HOSTS": "http://x/"}, dotenv=None)


# -- the egress proxy, on loopback only --------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/go?"):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
            return
        body = b"hello from " + str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[list[http.server.ThreadingHTTPServer]]:
    made = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.hits = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
    yield made
    for server in made:
        server.shutdown()


def _get(proxy: EgressProxy, url: str) -> tuple[int, bytes]:
    from svp.media.images import FetchError, fetch

    try:
        response = fetch(url, proxy.url, max_bytes=1 << 20, timeout=5)
        return response.status, response.body
    except FetchError as exc:
        return exc.status or 0, str(exc).encode()


def test_the_proxy_lets_admitted_hosts_through_and_refuses_a_redirect_to_another_port(servers):
    admitted, other = (s.server_address[1] for s in servers)
    policy = Policy.from_entries([f"127.0.0.1:{admitted}"])
    with EgressProxy(policy, loopback_only) as proxy:
        assert _get(proxy, f"http://127.0.0.1:{admitted}/ok") == (
            200,
            f"hello from {admitted}".encode(),
        )
        status, body = _get(proxy, f"http://127.0.0.1:{admitted}/go?to=http://127.0.0.1:{other}/x")
        assert status == 403
        assert f"127.0.0.1:{other} is a loopback address" in body.decode()
        status, _ = _get(proxy, f"http://127.0.0.1:{other}/direct")
        assert status == 403
        # A name that resolves to loopback is refused when used, not only when first checked.
        status, body = _get(proxy, f"http://rebind.test:{other}/x")
        assert status == 403 and "resolves to 127.0.0.1" in body.decode()
    assert servers[1].hits == []  # the refused server never saw a request
    assert len(proxy.refusals) == 3


def test_the_proxy_refuses_connect_tunnels_and_other_schemes(servers):
    admitted, other = (s.server_address[1] for s in servers)
    policy = Policy.from_entries([f"127.0.0.1:{admitted}"])
    with EgressProxy(policy, loopback_only) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        for request in (
            f"CONNECT 127.0.0.1:{other} HTTP/1.1\r\nHost: 127.0.0.1:{other}\r\n\r\n",
            f"GET ftp://127.0.0.1:{other}/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            f"GET gopher://127.0.0.1:{other}/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(request.encode())
                assert client.recv(100).startswith(b"HTTP/1.1 403")
    assert servers[1].hits == []


def test_yt_dlp_ignores_no_proxy_and_goes_through_the_guard(servers, env, monkeypatch):
    """NO_PROXY=127.0.0.1 (set by the test environment, common in real ones) would make yt-dlp's
    urllib and curl handlers connect directly; the child process never sees it."""
    from svp.config import load_settings
    from svp.media.download import download

    admitted, other = (s.server_address[1] for s in servers)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", f"127.0.0.1:{admitted}")
    settings = load_settings(dotenv=None)
    with pytest.raises(Refused, match=f"127.0.0.1:{other} is a loopback address"):
        download(
            f"http://127.0.0.1:{admitted}/go?to=http://127.0.0.1:{other}/clip.mp4",
            env_dir(env),
            settings,
            loopback_only,
        )
    assert servers[1].hits == []


def env_dir(env: dict[str, str]):
    from pathlib import Path

    path = Path(env["SVP_DATA_DIR"]) / "download"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://③⑧③｡②⑤⑥｡②⑤⑥｡②⑤⑦/ HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        b"CONNECT [::1:443 HTTP/1.1\r\n\r\n",
        b"CONNECT media.example:99999 HTTP/1.1\r\n\r\n",
        b"CONNECT :: HTTP/1.1\r\n\r\n",
        b"BREW\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Padding: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
)
def test_the_proxy_answers_403_with_a_logged_reason_to_what_it_cannot_parse(request_bytes, caplog):
    with EgressProxy(ADMITTED, loopback_only) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(request_bytes)
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 403 Forbidden"), answer[:200]
    reason = answer.partition(b"\r\n\r\n")[2].decode()
    assert re.match(r"(refused|not a supported link|not a web link): \S", reason), reason
    assert proxy.refusals == [reason]
    assert f"egress refused: {reason}" in caplog.text
