"""Helpers for the API tests: people with their own Notion workspaces, signing in through the
fake's OAuth pages, and a pipeline whose media stages are stand-ins (the writer is real, so
pages reach Notion with each person's own token)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from svp.errors import TransientError
from svp.runtime.runner import StageContext
from tests.fakes.notion import FakeNotion, Workspace

LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending", "done", "failed"]},
    "error": "rich_text",
    "result": "url",
    "updated_time": "date",
}
RECIPE_SCHEMA = {"name": "title", "video_link": "url", "steps": "rich_text"}
REDIRECT_URI = "http://127.0.0.1:8080/auth/notion/callback"


@dataclass
class Person:
    workspace: Workspace
    links_db: str
    links: str  # data source id of the Link Database
    recipes_db: str
    recipes: str


def person(fake: FakeNotion, name: str) -> Person:
    workspace = fake.add_workspace(f"{name}'s notes", owner_name=name)
    links_db, links = fake.add_database(f"{name}'s links", LINK_SCHEMA, workspace=workspace)
    recipes_db, recipes = fake.add_database(f"{name}'s recipes", RECIPE_SCHEMA, workspace=workspace)
    return Person(workspace, links_db, links, recipes_db, recipes)


def oauth_env(fake: FakeNotion, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    return {
        "NOTION_BASE_URL": fake.base_url,
        "NOTION_CLIENT_ID": fake.oauth_client_id,
        "NOTION_CLIENT_SECRET": fake.oauth_client_secret,
        "NOTION_REDIRECT_URI": redirect_uri,
        "SVP_NOTION_RPS": "200",
    }


def notion_redirect(location: str) -> str:
    """What a browser does on Notion's authorize page: follow it to our callback URL."""
    reply = httpx.get(location, follow_redirects=False, timeout=5)
    assert reply.status_code == 302, reply.text
    return reply.headers["location"]


def sign_in(client: Any, fake: FakeNotion, who: Person, base_url: str = "http://localhost"):
    """The whole OAuth round trip with a Flask test client; returns the final response."""
    fake.sign_in_as(who.workspace)
    login = client.get("/auth/notion/login", base_url=base_url)
    assert login.status_code == 302, login.get_data(as_text=True)
    back = urlsplit(notion_redirect(login.headers["Location"]))
    return client.get(f"{back.path}?{back.query}", base_url=base_url)


def csrf_of(client: Any) -> str:
    return client.get("/api/me").get_json()["csrf_token"]


def sign_in_and_register(
    client: Any, fake: FakeNotion, who: Person, link_db: str, content_db: str, tag: str = "cooking"
) -> None:
    """Sign `who` in and register their Link Database and one Content Database by the API."""
    sign_in(client, fake, who)
    headers = {"X-CSRF-Token": csrf_of(client)}
    client.post("/api/link-database/register", json={"database": link_db}, headers=headers)
    client.post(
        "/api/databases/register", json={"database": content_db, "tag": tag}, headers=headers
    )


class Flaky:
    """URLs containing "flaky" fail the downloader transiently until `heal()`."""

    def __init__(self) -> None:
        self.healed = threading.Event()

    def heal(self) -> None:
        self.healed.set()


def stub_works(flaky: Flaky | None = None) -> dict:
    """Stand-ins for the media stages and the summarizer; the writer is the real one."""

    def artifact(stage: str):
        def work(ctx: StageContext) -> dict:
            url = ctx.job["link"].get("url", "")
            if stage == "downloader" and "flaky" in url and not (flaky and flaky.healed.is_set()):
                raise TransientError("the site answered 503 (stand-in)")
            return {"artifacts": {stage: ctx.save(f"{stage}.txt", url.encode())}}

        return work

    def summarize(ctx: StageContext) -> dict:
        url = ctx.job["link"].get("url", "")
        values = {"name": f"Recipe from {url.rsplit('/', 1)[-1]}", "steps": "Boil, then eat."}
        summary = {
            "items": [values],
            "evidence": [{}],
            "engine": "stand-in",
            "needs_review": False,
            "notes": [],
            "summary": "A summary.",
            "content": {"caption": "", "transcript": "words", "screen_lines": [], "language": "en"},
        }
        return {"artifacts": {"summary": ctx.save("summary.json", json.dumps(summary).encode())}}

    return {
        "downloader": artifact("downloader"),
        "transcriber": artifact("transcriber"),
        "ocr": artifact("ocr"),
        "summarizer": summarize,
    }
