"""What a request being served can ask of the app: its ApiState, and whether the request
is a form post from the status page.

Both the app (svp.api.app) and its routes (svp.api.routes) import this module, so imports
go one way: app -> routes -> current.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import URLSafeTimedSerializer

from svp.api.health import Health
from svp.api.ratelimit import RequestBudgets
from svp.runtime.context import Runtime

EXTENSION = "svp"  # the key of the ApiState in app.extensions


@dataclass
class ApiState:
    """What every request needs beyond Flask's own: the runtime (settings, state store,
    bus), the rate limiters, the health check and the signer of the OAuth state cookie."""

    runtime: Runtime
    by_user: RequestBudgets
    by_ip: RequestBudgets
    health: Health
    state_signer: URLSafeTimedSerializer
    secure_cookies: bool
    owner_token: str | None = None  # `svp serve`'s, for the machine's owner (svp.api.owner)


def api_state() -> ApiState:
    """The ApiState of the app serving this request."""
    return current_app.extensions[EXTENSION]


def wants_html() -> bool:
    """A form post from the status page (answered with a redirect), not a JSON client."""
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
