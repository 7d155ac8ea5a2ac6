"""The Flask app: sessions, API keys, CSRF, CORS, rate limits, Notion sign-in and /health.

Authentication: a session cookie set after Notion's OAuth flow (signed, HttpOnly, SameSite=Lax,
Secure except for plain-http loopback serving) whose session still stands in the state store
(svp.api.sessions), or `Authorization: Bearer <API key>`; the person lists and ends both.

CSRF: the session cookie is SameSite=Lax, so other sites' POSTs arrive without it; on top of
that every state-changing request authenticated by the cookie must carry the session's CSRF
token (a hidden form field, or the X-CSRF-Token header for JSON; GET /api/me hands it to
pages on an allowed CORS origin). API-key requests need no token: browsers never attach
the Authorization header on their own.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from svp import accounts
from svp.api import owner, rendering, sessions
from svp.api.current import EXTENSION, ApiState, api_state, wants_html
from svp.api.health import Health
from svp.api.ratelimit import RequestBudgets
from svp.api.routes import api, pages
from svp.config import ConfigError, Settings, load_settings
from svp.notion import oauth
from svp.runtime.context import Runtime
from svp.wiring import build_runtime

log = logging.getLogger("svp.api")

SESSION_COOKIE = "svp_session"
STATE_COOKIE = "svp_oauth_state"
STATE_MAX_AGE = 600  # seconds a sign-in may take
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IP_LIMIT_FACTOR = 2  # a client address gets twice a user's budget (a few people behind a NAT)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def session_secret(settings: Settings) -> bytes:
    """SVP_SESSION_SECRET, or locally a key file under SVP_DATA_DIR made on first use."""
    if settings.session_secret:
        return settings.session_secret.encode()
    if settings.uses_gcp:
        raise ConfigError("SVP_SESSION_SECRET is required when SVP_BACKEND=gcp")
    path = settings.data_dir / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return Path(path).read_bytes().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def secure_cookies(settings: Settings) -> bool:
    """Cookies are Secure unless this is local serving over plain http on a loopback
    address (`svp serve`), where a browser would not send them back."""
    if settings.uses_gcp:
        return True
    redirect_uri = settings.notion_redirect_uri
    if not redirect_uri:
        return False
    try:  # the host, parsed: http://localhost.attacker.example/ is not loopback
        parts = urlsplit(redirect_uri.strip())
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return True
    # The authority must be that host exactly ("[::1].attacker.example" parses as ::1 too).
    shown = f"[{host}]" if ":" in host else host
    authority = parts.netloc.rpartition("@")[2].lower()
    exact = authority in (shown, f"{shown}:{port}")
    return not (parts.scheme.lower() == "http" and host in LOOPBACK_HOSTS and exact)


def create_app(runtime: Runtime | None = None, owner_token: str | None = None) -> Flask:
    """`owner_token`: `svp serve`'s token for the machine's owner (svp.api.owner); the api
    function has none (sign-in with Notion only)."""
    runtime = runtime or build_runtime(load_settings())
    settings = runtime.settings
    if owner_token and settings.uses_gcp:
        raise ConfigError("the owner's token is for `svp serve` on one machine, not for gcp")
    secret = session_secret(settings)
    secure = secure_cookies(settings)
    # The status page's templates: svp/api/templates/, beside this package's modules.
    app = Flask("svp.api", template_folder="templates")
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=sessions.SESSION_DAYS),
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
    )
    limit = settings.api_requests_per_minute
    app.extensions[EXTENSION] = ApiState(
        runtime=runtime,
        by_user=RequestBudgets(limit),
        by_ip=RequestBudgets(limit * IP_LIMIT_FACTOR),
        health=Health(runtime),
        state_signer=URLSafeTimedSerializer(secret, salt="svp-oauth-state"),
        secure_cookies=secure,
        owner_token=owner_token,
    )
    if settings.uses_gcp:
        # Behind Google's front end: the client address is the last X-Forwarded-For entry.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    rendering.install(app)
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    _auth_routes(app)
    _error_handlers(app)
    return app


# -- every request -------------------------------------------------------------------------
def _before():
    g.nonce = secrets.token_urlsafe(16)  # the status page's one script runs with it (CSP)
    if (opened := _open_as_owner()) is not None:
        return opened
    _identify()
    limited = request.path.startswith(("/api/", "/auth/"))
    if request.path.startswith("/api/") and _is_preflight():
        return _preflight()
    if limited and (retry := _rate_limited()):
        answer = jsonify(error=f"too many requests: retry in {retry} s", retry_after=retry)
        return answer, 429, {"Retry-After": str(retry)}
    if g.get("bad_key") and request.path.startswith("/api/"):
        return jsonify(error="invalid or revoked API key"), 401
    if request.method in CHANGING and g.auth == "session" and request.endpoint != "callback":
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        expected = session.get("csrf") or ""
        if not (sent and expected and hmac.compare_digest(sent, expected)):
            return _refuse(
                403,
                "the form has expired or did not come from this site (CSRF "
                "token missing or wrong): reload the page and try again",
            )
    return None


def _open_as_owner():
    """`/?token=...` from `svp serve`'s start: the owner's session, then the same address
    without the token (kept out of history and of the Referer)."""
    token = api_state().owner_token
    sent = request.args.get("token")
    if request.method != "GET" or sent is None or not token:
        return None
    if not owner.matches(token, sent):
        return _refuse(
            403, "this link's token is not the one `svp serve` printed: open the link it printed"
        )
    session.clear()
    session[owner.SESSION_KEY] = owner.digest(token)
    session["csrf"] = secrets.token_urlsafe(32)
    rest = {k: v for k, v in request.args.items() if k != "token"}
    return redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), 303)


def _identify() -> None:
    """g.user (public fields, never the token) and g.auth: "session", "key" or None."""
    g.user, g.auth = None, None
    runtime = api_state().runtime
    token = api_state().owner_token
    header = request.headers.get("Authorization")
    if token and header is None and session.get(owner.SESSION_KEY) == owner.digest(token):
        has_notion = accounts.notion_for(runtime, None) is not None
        g.user, g.auth = owner.owner_user(has_notion), "session"
        return
    if header is not None:
        scheme, _, key = header.partition(" ")
        user_id = None
        if scheme.lower() == "bearer" and key.strip():
            user_id = accounts.user_for_api_key(runtime, key.strip())
        user = runtime.state.get(accounts.USERS, user_id) if user_id else None
        if user:
            g.user, g.auth = accounts.public(user), "key"
        else:
            g.bad_key = True
        return
    user_id = sessions.user_of(runtime, session.get("sid"))
    user = runtime.state.get(accounts.USERS, user_id) if user_id else None
    if user:
        g.user, g.auth = accounts.public(user), "session"
    elif "sid" in session or "uid" in session:  # ended elsewhere, expired, or from before
        for name in ("sid", "uid", "csrf"):  # sessions were kept: the browser forgets it
            session.pop(name, None)


def _rate_limited() -> int:
    state = api_state()
    retry = state.by_ip.hit(f"ip:{request.remote_addr}")
    if not retry and g.user:
        retry = state.by_user.hit(f"user:{g.user['user_id']}")
    return retry


def _cors_origin() -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in api_state().runtime.settings.cors_origins else None


def _is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def _preflight():
    origin = _cors_origin()
    if origin is None:
        return jsonify(error="origin not allowed"), 403, {"Vary": "Origin"}
    return (
        "",
        204,
        {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, X-CSRF-Token",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


def _after(response):
    if request.path.startswith("/api/"):
        response.vary.add("Origin")
        if (origin := _cors_origin()) and not _is_preflight():
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    headers = response.headers
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            f"script-src 'nonce-{g.get('nonce', '')}'; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
    return response


def _refuse(status: int, message: str):
    if request.path.startswith("/api/") and not wants_html():
        return jsonify(error=message), status
    return render_template("message.html", title="Something went wrong", message=message), status


# -- Notion sign-in ------------------------------------------------------------------------
def _auth_routes(app: Flask) -> None:
    @app.get("/auth/notion/login")
    def login():
        settings = api_state().runtime.settings
        if not oauth.configured(settings):
            message = "Notion sign-in is not configured on this server: set " + ", ".join(
                oauth.missing_settings(settings)
            )
            return render_template("message.html", title="Not configured", message=message), 503
        state = secrets.token_urlsafe(32)
        response = redirect(oauth.authorize_url(settings, state), 302)
        response.set_cookie(
            STATE_COOKIE,
            api_state().state_signer.dumps(state),
            max_age=STATE_MAX_AGE,
            path="/auth/notion/",
            httponly=True,
            samesite="Lax",
            secure=api_state().secure_cookies,
        )
        return response

    @app.route("/auth/notion/callback", methods=["GET", "POST"])
    def callback():
        response = _finish_sign_in()
        response.delete_cookie(
            STATE_COOKIE,
            path="/auth/notion/",
            httponly=True,
            samesite="Lax",
            secure=api_state().secure_cookies,
        )
        return response

    @app.post("/auth/logout")
    def logout():
        sessions.end(api_state().runtime, session.get("sid"))
        session.clear()
        return redirect("/", 303)

    @app.post("/auth/logout-everywhere")
    def logout_everywhere():
        if g.user is not None:
            ended = sessions.end_all(api_state().runtime, g.user["user_id"])
            labels = {"user": g.user["user_id"], "sessions": str(ended)}
            log.info(
                "signed out everywhere", extra={"event": "session.ended_all", "labels": labels}
            )
        session.clear()
        return redirect("/", 303)

    @app.get("/health")
    def health():
        answer, status = api_state().health.check()
        return jsonify(answer), status


def _finish_sign_in():
    def failed(status: int, message: str):
        log.warning("sign-in failed: %s", message, extra={"event": "oauth.rejected"})
        page = render_template("message.html", title="Sign-in failed", message=message, retry=True)
        return make_response(page, status)

    params = request.values
    if params.get("error"):
        return failed(
            400, f"Notion sign-in was cancelled ({params['error'][:60]}): nothing was connected"
        )
    expected = _state_from_cookie()
    sent = params.get("state") or ""
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        return failed(
            400,
            "this sign-in could not be verified (its state does not match the "
            "one this browser started with): start again",
        )
    code = params.get("code")
    if not code:
        return failed(400, "Notion sent no authorization code: start again")
    runtime = api_state().runtime
    try:
        answer = oauth.exchange_code(runtime.settings, code)
    except oauth.OAuthError as exc:
        return failed(502, str(exc))
    known = runtime.state.get(
        accounts.USERS, accounts.user_id_for(answer["workspace_id"], answer["bot_id"])
    )
    user = accounts.save_user(runtime, answer)
    if known and known.get("needs_reconnect"):
        # Reconnecting after Notion stopped accepting the old access ends every older
        # session: they were opened with the access that was lost.
        sessions.end_all(runtime, user["user_id"])
    session.clear()
    session.permanent = True
    session["sid"] = sessions.start(runtime, user["user_id"], request.user_agent.string or "")
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("signed in", extra={"event": "oauth.signed_in", "labels": {"user": user["user_id"]}})
    flash("Signed in with Notion.", "ok")  # the page's first card says which workspace
    return redirect("/", 303)


def _state_from_cookie() -> str | None:
    cookie = request.cookies.get(STATE_COOKIE)
    if not cookie:
        return None
    try:
        return api_state().state_signer.loads(cookie, max_age=STATE_MAX_AGE)
    except BadSignature:  # SignatureExpired is one too
        return None


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_exc):
        return _refuse(404, "not found")

    @app.errorhandler(405)
    def not_allowed(_exc):
        return _refuse(405, "method not allowed")

    @app.errorhandler(413)
    def too_large(_exc):
        return _refuse(413, "request too large")

    @app.errorhandler(Exception)
    def crashed(exc: Exception):
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return _refuse(exc.code or 500, exc.description or "error")
        log.error(
            "request failed: %s", type(exc).__name__, exc_info=exc, extra={"event": "api.error"}
        )
        return _refuse(500, "internal error: try again later")
