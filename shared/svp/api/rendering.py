"""How the status page is rendered: the filters its templates use.

The templates are files in svp/api/templates/ (plain server-rendered HTML with inline CSS, no
script), found by Flask as the app's template folder and shipped as package data in the
wheel; the Cloud Function's zip carries the whole svp folder. Autoescaping is on: Flask turns
it on for names ending in .html, and style.css holds no variables.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def web_link(url: Any) -> bool:
    """Only http(s) links become hrefs (a link entry could hold `javascript:`)."""
    return isinstance(url, str) and url.lower().startswith(("https://", "http://"))


def when(iso: Any) -> str:
    """2026-11-26T13:28:53+00:00 -> 2026-11-26 13:28 UTC"""
    if not isinstance(iso, str) or len(iso) < 16:
        return str(iso or "")
    return f"{iso[:10]} {iso[11:16]} UTC" if iso.endswith("+00:00") else iso


def seconds(ms: Any) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def browser(user_agent: Any) -> str:
    """A short name for a session's browser, from its User-Agent."""
    text = str(user_agent or "")
    for name in ("Edg", "OPR", "Firefox", "Chrome", "Safari", "curl", "python"):
        if name in text:
            systems = ("Android", "iPhone", "iPad", "Mac OS", "Windows", "Linux")
            system = next((s for s in systems if s in text), "")
            label = {"Edg": "Edge", "OPR": "Opera"}.get(name, name)
            return f"{label} on {system}" if system else label
    return text[:40] or "a browser"


def install(app: Flask) -> None:
    app.jinja_env.filters["web_link"] = web_link
    app.jinja_env.filters["seconds"] = seconds
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["browser"] = browser
