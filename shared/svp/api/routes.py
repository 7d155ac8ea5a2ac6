"""The JSON API (/api/...) and the status page (/), for the signed-in user only.

Every read and write is scoped to g.user: a job or registration of someone else is answered
as if it did not exist (404). Form posts from the status page get a redirect back to it with
a message; JSON clients get JSON.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, session

from svp import accounts
from svp.api import sessions, views
from svp.api.current import api_state, wants_html
from svp.errors import StageError, TransientError
from svp.notion import oauth
from svp.notion.gateway import NotionRequestError, normalize_id
from svp.notion.registry import Registry
from svp.runtime import jobs

log = logging.getLogger("svp.api")
api = Blueprint("api", __name__, url_prefix="/api")
pages = Blueprint("pages", __name__)
RECENT_JOBS = 30
MAX_JOBS = 100
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
PUBLIC_ID = re.compile(r"[0-9a-f]{12}")


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def for_the_web(text: str) -> str:
    """The registration's messages name the command line's --fix; the page has a box."""
    text = text.replace("run again with --fix", "register again with the “Add…” box ticked")
    return text.replace("use --fix", "tick the “Add…” box")


@api.errorhandler(ApiError)
def _refused(exc: ApiError):
    if wants_html():
        flash(for_the_web(exc.message), "error")
        return redirect("/", 303)
    return jsonify(error=exc.message, **exc.extra), exc.status


def _user() -> dict[str, Any]:
    if g.user is None:
        raise ApiError(
            401,
            "sign in with Notion (GET /auth/notion/login) or send Authorization: Bearer <API key>",
        )
    return g.user


def _input() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object")
        return data
    return request.form.to_dict()


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "on", "yes")


def _text(data: dict[str, Any], name: str, limit: int = 2000) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if len(value) > limit:
        raise ApiError(400, f"{name} is longer than {limit} characters")
    return value.strip()


def _notes(warnings: list[str]) -> None:
    if wants_html():
        for warning in warnings:
            flash(f"Note: {for_the_web(warning)}", "note")


def _done(message: str, status: int = 200, **payload: Any):
    if wants_html():
        flash(message, "ok")
        return redirect("/", 303)
    return jsonify(message=message, **payload), status


# -- registrations ---------------------------------------------------------------------------
def _register(call: Callable[[], tuple[dict, list]]) -> tuple[dict, list]:
    """Run a registration with the user's token; Notion's refusals become answers."""
    user_id, runtime = _user()["user_id"], api_state().runtime
    try:
        try:
            return call()
        except NotionRequestError as exc:
            if exc.status != 401 or not accounts.mark_needs_reconnect(runtime, user_id, exc.reason):
                raise
            accounts.forget_notion(runtime, user_id)  # refreshed: once more, with the new token
            return call()
    except NotionRequestError as exc:
        if exc.status == 401:
            raise ApiError(409, exc.reason, needs_reconnect=True) from None
        raise ApiError(400, exc.reason) from None
    except TransientError as exc:
        raise ApiError(503, exc.reason) from None
    except StageError as exc:  # RegistrationError, a bad id: what to change
        raise ApiError(400, exc.reason) from None


@api.post("/link-database/register")
def register_link_database():
    from svp.notion.register import register_link_database as register

    user, data = _user(), _input()
    ref = _text(data, "database")
    if not ref:
        raise ApiError(400, "database: give the Link Database's Notion URL or id")
    saved, warnings = _register(
        lambda: register(
            api_state().runtime,
            ref,
            fix=_flag(data.get("fix")),
            user=user["user_id"],
            notion=accounts.notion_for(api_state().runtime, user["user_id"]),
        )
    )
    message = f"Registered Link Database {saved['title'] or saved['data_source_id']!r}."
    _notes(warnings)
    return _done(message, 201, registration=views.registration_view(saved), warnings=warnings)


@api.post("/databases/register")
def register_content_database():
    from svp.notion.register import register_content_database as register

    user, data = _user(), _input()
    ref, tag = _text(data, "database"), _text(data, "tag", 100)
    if not ref or not tag:
        raise ApiError(
            400,
            "database and tag are required: the Content Database's Notion URL "
            "or id, and the tag whose links go to it",
        )
    saved, warnings = _register(
        lambda: register(
            api_state().runtime,
            ref,
            tag,
            prompt=_text(data, "prompt"),
            many=_flag(data.get("many")),
            language=_text(data, "language", 50),
            fix=_flag(data.get("fix")),
            user=user["user_id"],
            notion=accounts.notion_for(api_state().runtime, user["user_id"]),
        )
    )
    message = f"Registered Content Database {saved['title']!r} for tag {saved['tag']!r}."
    _notes(warnings)
    return _done(message, 201, registration=views.registration_view(saved), warnings=warnings)


@api.get("/databases")
def list_databases():
    registry = Registry(api_state().runtime, _user()["user_id"])
    return jsonify(databases=[views.registration_view(r) for r in registry.all()])


@api.post("/databases/unregister")
def unregister_content_database():
    registry = Registry(api_state().runtime, _user()["user_id"])
    tag = _text(_input(), "tag", 100).lower()
    if not tag or not registry.remove_content(tag):
        raise ApiError(404, f"no Content Database is registered for tag {tag!r}")
    return _done(f"Removed the Content Database of tag {tag!r}.")


@api.post("/link-database/unregister")
def unregister_link_database():
    registry = Registry(api_state().runtime, _user()["user_id"])
    ref = _text(_input(), "database")
    try:
        key = normalize_id(ref)
    except StageError:
        raise ApiError(400, f"not a Notion id or URL: {ref!r}") from None
    links = [r for r in registry.all() if r["kind"] == "link"]
    match = next(
        (
            r["data_source_id"]
            for r in links
            if key
            in (r["data_source_id"].replace("-", ""), r.get("database_id", "").replace("-", ""))
        ),
        None,
    )
    if match is None or not registry.remove_link(match):
        raise ApiError(404, "no such Link Database is registered")
    return _done("Removed the Link Database.")


# -- jobs --------------------------------------------------------------------------------------
def _own_job(job_id: str) -> dict[str, Any]:
    """The user's job, or 404 for a job that is missing or someone else's (same answer)."""
    user = _user()
    job = api_state().runtime.state.get(jobs.JOBS, job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None or job.get("user", accounts.LOCAL_USER) != user["user_id"]:
        raise ApiError(404, "no such job")
    return job


def _recent_jobs(user_id: str, limit: int) -> list[dict[str, Any]]:
    return api_state().runtime.state.list(jobs.JOBS, where={"user": user_id}, limit=limit)


@api.get("/jobs")
def list_jobs():
    user = _user()
    try:
        limit = min(MAX_JOBS, max(1, int(request.args.get("limit", RECENT_JOBS))))
    except ValueError:
        raise ApiError(400, "limit must be a whole number") from None
    found = _recent_jobs(user["user_id"], limit)
    if status := request.args.get("status"):
        found = [j for j in found if j["status"] == status]
    dead = views.dead_lettered_jobs(api_state().runtime)
    return jsonify(
        jobs=[views.job_view(j, None if dead is None else j["job_id"] in dead) for j in found]
    )


@api.get("/jobs/<job_id>")
def get_job(job_id: str):
    job = _own_job(job_id)
    dead = views.dead_lettered_jobs(api_state().runtime)
    return jsonify(job=views.job_view(job, None if dead is None else job_id in dead))


@api.post("/jobs/<job_id>/replay")
def replay_job(job_id: str):
    job = _own_job(job_id)
    if job["status"] != "failed":
        raise ApiError(409, f"this link is {job['status']}: only failed links can be replayed")
    replayed = views.replay(api_state().runtime, job)
    if not replayed:
        raise ApiError(
            409,
            "nothing to replay: this link failed for good ("
            + (job.get("error") or "no reason recorded")
            + "); fix that, then set its status back to "
            "pending in Notion",
        )
    log.info(
        "replayed %d message(s)",
        len(replayed),
        extra={"event": "api.replay", "labels": {"job_id": job_id}},
    )
    stages = [
        {"stage": r.stage, "attempts": r.attempts, "last_error": r.last_error} for r in replayed
    ]
    return _done(
        f"Replayed {', '.join(s['stage'] for s in stages)}: the link is queued again.",
        202,
        replayed=stages,
    )


# -- the user and API keys ---------------------------------------------------------------------
@api.get("/me")
def me():
    user = _user()
    extra = {"csrf_token": session.get("csrf")} if g.auth == "session" else {}
    return jsonify(user=views.user_view(user), **extra)


@api.post("/keys")
def create_key():
    user = _user()
    key = accounts.create_api_key(api_state().runtime, user["user_id"])
    log.info(
        "API key created", extra={"event": "api.key_created", "labels": {"user": user["user_id"]}}
    )
    if wants_html():  # shown once, on this page; never put in a cookie or a redirect
        return status_page(new_key=key), 201
    return jsonify(api_key=key, note="shown once: keep it secret"), 201


@api.get("/keys")
def list_keys():
    return jsonify(keys=accounts.api_keys(api_state().runtime, _user()["user_id"]))


@api.post("/keys/<key_id>/revoke")
def revoke_key(key_id: str):
    user = _user()
    found = PUBLIC_ID.fullmatch(key_id) and accounts.revoke_api_key(
        api_state().runtime, user["user_id"], key_id
    )
    if not found:
        raise ApiError(404, "no such API key")
    labels = {"user": user["user_id"]}
    log.info("API key revoked", extra={"event": "api.key_revoked", "labels": labels})
    return _done("Revoked the API key: it no longer works.")


# -- sessions ------------------------------------------------------------------------------------
def _this_session() -> str | None:
    return session.get("sid") if g.auth == "session" else None


@api.get("/sessions")
def list_sessions():
    found = sessions.listing(api_state().runtime, _user()["user_id"], _this_session())
    return jsonify(sessions=found)


@api.post("/sessions/<public_id>/revoke")
def revoke_session(public_id: str):
    user = _user()
    listed = sessions.listing(api_state().runtime, user["user_id"], _this_session())
    current = any(s["current"] and s["session"] == public_id for s in listed)
    if not PUBLIC_ID.fullmatch(public_id) or not sessions.end_one(
        api_state().runtime, user["user_id"], public_id
    ):
        raise ApiError(404, "no such session")
    if current:
        session.clear()
        return _done("Signed out of this browser.")
    return _done("Signed out of that browser: its next request is refused.")


@api.post("/sessions/revoke-all")
def revoke_all_sessions():
    ended = sessions.end_all(api_state().runtime, _user()["user_id"])
    if g.auth == "session":
        session.clear()
    return _done(f"Signed out everywhere ({ended} session{'s' if ended != 1 else ''}).")


# -- the status page -----------------------------------------------------------------------------
@pages.get("/")
def status_page(new_key: str | None = None):
    settings = api_state().runtime.settings
    if g.user is None or g.auth != "session":
        return render_template(
            "signed_out.html",
            oauth_ready=oauth.configured(settings),
            missing=oauth.missing_settings(settings),
            owner_mode=bool(api_state().owner_token),
        )
    runtime = api_state().runtime
    user = g.user
    found = _recent_jobs(user["user_id"], RECENT_JOBS)
    dead = views.dead_lettered_jobs(runtime)
    shown = [views.job_view(j, None if dead is None else j["job_id"] in dead) for j in found]
    listing = {
        "jobs": shown,
        "failed": [j for j in shown if j["status"] == "failed"],
        "running": any(j["status"] not in ("done", "failed") for j in shown),
        "owner": bool(user.get("owner")),
        "csrf": session.get("csrf", ""),
    }
    if request.args.get("part") == "jobs":  # the page's script refreshes the links with it
        return render_template("jobs_part.html", **listing)
    owner = bool(user.get("owner"))
    registry = Registry(runtime, user["user_id"])
    registrations = [views.registration_view(r) for r in registry.all()]
    return render_template(
        "status.html",
        user=views.user_view(user) | {"owner": owner, "has_notion": user.get("has_notion")},
        registrations=registrations,
        new_key=new_key,
        keys=[] if owner else accounts.api_keys(runtime, user["user_id"]),
        sessions=[] if owner else sessions.listing(runtime, user["user_id"], session.get("sid")),
        **listing,
    )


@pages.get("/jobs/<job_id>/picture")
def job_picture(job_id: str):
    """The picture of the page a job made (the card shows it), for its owner only."""
    try:
        data = views.picture(api_state().runtime, _own_job(job_id))
    except ApiError:
        data = None  # signed out, or someone else's job: the same answer as none
    if data is None:
        abort(404)
    return data, 200, {"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600"}
