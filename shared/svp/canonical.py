"""One spelling per video link, so the same video saved twice is recognised."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track who shared the link, never which video it is.
_TRACKING = ("utm_", "igsh", "igshid", "is_from_webapp", "sender_device", "_r", "_t", "si",
             "feature", "share_", "ref")  # fmt: skip


def canonical_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().removeprefix("www.").removeprefix("m.")
    if parts.port:
        host = f"{host}:{parts.port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith(_TRACKING)
    ]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, urlencode(sorted(query)), ""))
