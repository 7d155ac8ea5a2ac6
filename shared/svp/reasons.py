"""A job's recorded reason in plain words, for the command line and the status page.

The recorded reason keeps the library's text (the status page folds it under "details");
what a person reads first names the link they gave and what happened, never the internal
egress proxy's address or a Python exception's class.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_GAVE_UP = re.compile(r"^gave up after (\d+) attempts: (.*)$", re.S)
# (pattern in the raw text, plain words); the first that matches wins.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I | re.S), words)
    for pattern, words in (
        (r"read timed out|timed out|timeout", "{site} is not answering"),
        (
            r"connection refused|failed to establish|name resolution|name or service",
            "{site} cannot be reached",
        ),
        (r"reset by peer|connection aborted|remote end closed", "{site} dropped the connection"),
        (
            r"http error 5\d\d|\b5\d\d\b.*server error|unreachable or failing",
            "{site} is failing (server error)",
        ),
        (r"rate-limiting|too many requests|http error 429", "{site} is rate-limiting this machine"),
    )
)
# Library text that would otherwise leak: `HTTPConnectionPool(host='127.0.0.1', port=4711)`.
_POOL = re.compile(r"\w*ConnectionPool\(host='[^']*', port=\d+\):?\s*")


def site_of(url: str) -> str:
    host = urlsplit(url).hostname if "://" in url else ""
    return f"the site ({host})" if host else "the site"


def plain(reason: str | None, url: str = "") -> str:
    """`reason` as one short line a person can act on; `url` is the link they gave."""
    text = (reason or "").strip()
    if not text:
        return "no reason was recorded"
    attempts = ""
    if found := _GAVE_UP.match(text):
        attempts, text = f" (gave up after {found.group(1)} attempts)", found.group(2)
    if is_transport(text):
        for pattern, words in _RULES:
            if pattern.search(text):
                return words.format(site=site_of(url)) + attempts
    text = _POOL.sub("", text).replace(", will retry", "")
    first = text.splitlines()[0] if text else ""
    return (first[:240] + ("…" if len(first) > 240 else "")) + attempts


def is_transport(text: str) -> bool:
    """A network failure of the download (what the retries are for), by its words."""
    return bool(
        re.search(
            r"unreachable or failing|ConnectionPool|timed out|connection refused|reset by peer|"
            r"rate-limiting|http error (429|5\d\d)",
            text,
            re.I,
        )
    )


def is_plain(reason: str | None, url: str = "") -> bool:
    """True when `plain` says all the reason says (nothing worth folding away)."""
    return plain(reason, url) == (reason or "").strip()
