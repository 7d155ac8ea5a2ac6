"""FakeNotion: the Notion API, version 2025-09-03, as notion-client 3.x speaks it.

    with FakeNotion() as notion:
        db_id, ds_id = notion.add_database("Videos", {"Name": "title", "Status": {
            "type": "select", "options": ["pending", "done"]}})
        client = notion_client.Client(auth=notion.token, base_url=notion.base_url)
        client.data_sources.query(data_source_id=ds_id, filter=...)

The client sends everything to ``{base_url}/v1/...``. State is databases (each with one
data source holding the ``properties`` schema), pages and blocks, all in memory.

What the fake enforces, as the real API does (400 ``validation_error`` unless noted):

* ``Authorization: Bearer <token>`` equal to ``token`` (401 ``unauthorized``; after
  :meth:`FakeNotion.revoke` every call gets 401) and a ``Notion-Version`` header
  (400 ``missing_version``).
* text objects of at most 2000 characters, rich-text arrays of at most 100 items,
  multi_select values of at most 100 options, select/multi_select option names without
  commas, URLs ≤ 2000 and email/phone ≤ 200 characters, ≤ 100 children per request,
  request bodies ≤ 500 KB.
* property names must exist in the schema (``"X is not a property that exists."``) and a
  value must have the property's type (``"X is expected to be select."``).
* new select/multi_select option names are added to the schema; unknown status option
  names in a page write are rejected. ``PATCH /v1/data_sources/{id}`` adds status options
  (to the To-do group; existing ones are kept) as notion-sdk-js's
  ``StatusPropertyConfigUpdateRequest`` documents; the older reference page
  (https://developers.notion.com/reference/update-data-source-properties) said it could not.
* a filter's condition key must be the property's type (a ``select`` filter on a status
  property fails with ``"database property status does not match filter select"``).
* unknown ids: 404 ``object_not_found``; malformed ids: 400; ids with or without dashes.
* unsupported routes (including the removed ``/v1/databases/{id}/query``): 400
  ``invalid_request_url``.

Query results come in an order of the fake's own (stable per server, never creation order)
unless ``sorts`` are given; cursors are page ids.

Documented rules added for issue 18, each also beside its code:

* text content ≤ 2000 UTF-16 code units (an emoji counts 2):
  https://developers.notion.com/reference/request-limits#limits-for-property-values
* two levels of block nesting and ≤ 1000 blocks per request:
  https://developers.notion.com/reference/patch-block-children,
  https://developers.notion.com/reference/request-limits
* a file upload's ``content_type`` agrees with its filename's extension:
  https://developers.notion.com/reference/create-a-file-upload
* no order without ``sorts``: https://developers.notion.com/reference/query-a-data-source
* people, created_by and last_edited_by values are full user objects; page and data source
  ``created_by`` stay partial: https://developers.notion.com/reference/page-property-values
* every schema property has ``description``: https://developers.notion.com/reference/property-object
* formula (literal expressions), rollup, unique_id (numbered per data source) and
  verification values in Notion's shapes; pages carry ``is_archived`` with ``in_trash``
  (recorded responses: tests/data/notion/README.md)
* :meth:`FakeNotion.add_wiki_entry`: a wiki's queries return ``data_source`` objects among
  the pages (https://developers.notion.com/reference/query-a-data-source)
* :meth:`FakeNotion.conflict_next` (409 ``conflict_error``,
  https://developers.notion.com/reference/status-codes) and
  :meth:`FakeNotion.fail_token_endpoint` (a 5xx or 429 of ``POST /v1/oauth/token``)
* status options are added by ``PATCH /v1/data_sources/{id}`` (see below)
* :meth:`FakeNotion.refuse_image_url`: "Invalid image url." for an external image
* signed webhook requests, the handshake included: tests/fakes/_notion_webhooks.py

File uploads (``client.file_uploads``), single_part only (``multi_part`` and
``external_url`` are refused with 400 ``validation_error`` naming the fake; ``complete``
therefore always fails):

* ``POST /v1/file_uploads`` {mode?, filename?, content_type?} answers a File Upload object,
  ``status: "pending"``, ``expiry_time`` an hour after ``created_time``, ``upload_url``
  ``{base_url}/v1/file_uploads/{id}/send``; filename ≤ 900 bytes.
* ``POST /v1/file_uploads/{id}/send`` takes multipart/form-data with the file under
  ``file`` (its filename and Content-Type are used when create gave none); answers
  ``status: "uploaded"``, ``content_length`` set, no ``upload_url``. Refused (400): a body
  that is not multipart or has no ``file``, a ``part_number``, a file over
  :attr:`FakeNotion.max_file_bytes` (default 5 MiB, a free workspace's limit; never more than
  20 MiB), a content type other than the one given at create, an upload not ``pending``
  (already sent, or expired). Its body is not held to the 500 KB JSON limit.
* ``GET /v1/file_uploads/{id}``; ``GET /v1/file_uploads?status=&page_size=&start_cursor=``
  (creation order). Another workspace's upload is 404 ``object_not_found``.
* attaching: a file object ``{"type": "file_upload", "file_upload": {"id"}}`` as a page's
  ``cover`` or ``icon`` (create and update) or in an image/file/pdf/video/audio block
  (nested ones too, page create and append children) must name an ``uploaded`` upload of
  the caller's workspace: unknown, another workspace's, ``pending`` or ``expired`` ones are
  400 ``validation_error``. ``{"type": "external", "external": {"url"}}`` (≤ 2000 chars) and
  emoji icons are accepted; ``{"type": "file"}`` cannot be written. An attached upload no
  longer expires (``expiry_time: null``) and can be attached again; it is stored and read
  back as Notion returns a hosted file, ``{"type": "file", "file": {"url":
  "{base_url}/files/{id}/{filename}", "expiry_time"}}`` (blocks keep their ``caption``),
  and ``GET`` of that URL answers the bytes. An upload counts as attached only if the whole
  request succeeded.

Helpers: ``uploads`` (id -> :class:`FileUpload`), ``uploaded_bytes(id)``,
``add_upload(data, filename, content_type, workspace)`` (one made out of band),
``expire_upload(id)`` (its hour passes), ``cover_of(page_id)`` and ``images_of(page_id)``
(``{"type": "file_upload", "id", "filename", "content_type", "bytes", "url"}`` or
``{"type": "external", "url"}``; images in reading order, nested ones too, with
``caption`` as plain text).

Workspaces and OAuth (public integrations): every object belongs to a workspace and a token
sees only its own workspace's objects (others are 404 ``object_not_found``, as an unshared
page is). ``token`` belongs to the default workspace; :meth:`FakeNotion.add_workspace` adds
others, whose tokens come from the OAuth flow::

    alice = notion.add_workspace("Alice's notes", owner_name="Alice")
    notion.add_database("Links", {...}, workspace=alice)
    notion.sign_in_as(alice)  # what the next person on the authorize page picks
    # GET /v1/oauth/authorize?client_id=..&redirect_uri=..&state=.. answers 302 to
    #   redirect_uri?code=..&state=..  (``deny_next_sign_in()``: ?error=access_denied)
    # POST /v1/oauth/token, HTTP Basic client_id:client_secret, {grant_type, code,
    #   redirect_uri} answers {access_token, token_type, refresh_token, bot_id, workspace_id,
    #   ...}; {grant_type: "refresh_token", refresh_token} answers the same with a new access
    #   token and a new refresh token (the one sent is spent)

Codes are single-use and bound to their redirect URI; each exchange issues a new token for
the workspace (``alice.token`` is the latest); ``revoke(token)`` revokes one access token (as
when it expires: its refresh token still works), ``revoke_grant(workspace)`` every access and
refresh token of the workspace (the person disconnected the integration).
``grant_refresh_tokens = False`` answers ``refresh_token: null``, as older integrations get.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from ._notion_files import MEDIA_BLOCK_TYPES, FileUpload, FileUploads
from ._notion_query import compile_filter, find_property, sort_pages
from ._notion_schema import (
    FAKE_BOT,
    FAKE_USER_ID,
    OPTION_TYPES,
    PROPERTY_TYPES,
    NotionError,
    ValueContext,
    build_property,
    check_option_name,
    default_value,
    make_option,
    new_id,
    normalize_id,
    now_iso,
    page_url,
    person,
    plain,
    plain_text,
    property_type_of,
    rich_text_in,
    text_chunks,
    to_notion_value,
    user_ref,
    validation_error,
    write_value,
)
from ._server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeNotion", "FileUpload", "NotionError", "Workspace", "plain", "to_notion_value"]

DEFAULT_TOKEN = "secret-test-token"
DEFAULT_WORKSPACE = "fake-default-workspace"
OAUTH_CLIENT_ID = "fake-oauth-client-id"
OAUTH_CLIENT_SECRET = "fake-oauth-client-secret"
MAX_PAGE_SIZE = 100
MAX_CHILDREN = 100
MAX_NESTING = 2  # levels of blocks in one request
MAX_BLOCKS_PER_REQUEST = 1000
MAX_BODY_BYTES = 500 * 1024
TEXT_BLOCK_TYPES = {
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
    "code",
}

Json = dict[str, Any]


@dataclass
class DataSource:
    id: str
    database_id: str
    title: str
    properties: dict[str, Json]  # name -> full property object
    created_time: str = field(default_factory=now_iso)

    def to_json(self) -> Json:
        return {
            "object": "data_source",
            "id": self.id,
            "created_time": self.created_time,
            "last_edited_time": self.created_time,
            "created_by": user_ref(),
            "last_edited_by": user_ref(),
            "title": rich_text_in(text_chunks(self.title), "title"),
            "description": [],
            "icon": None,
            "cover": None,
            "properties": copy.deepcopy(self.properties),
            "parent": {"type": "database_id", "database_id": self.database_id},
            "database_parent": {"type": "workspace", "workspace": True},
            "archived": False,
            "in_trash": False,
            "is_inline": False,
            "url": page_url(self.id),
            "public_url": None,
        }


@dataclass
class Database:
    id: str
    title: str
    data_source_ids: list[str]
    created_time: str = field(default_factory=now_iso)

    def to_json(self, data_sources: dict[str, DataSource]) -> Json:
        return {
            "object": "database",
            "id": self.id,
            "created_time": self.created_time,
            "last_edited_time": self.created_time,
            "title": rich_text_in(text_chunks(self.title), "title"),
            "description": [],
            "icon": None,
            "cover": None,
            "parent": {"type": "workspace", "workspace": True},
            "is_inline": False,
            "in_trash": False,
            "is_locked": False,
            "data_sources": [
                {"id": ds_id, "name": data_sources[ds_id].title} for ds_id in self.data_source_ids
            ],
            "url": page_url(self.id),
            "public_url": None,
        }


@dataclass
class Workspace:
    """A Notion workspace a person connects through OAuth; its objects are its own."""

    id: str
    name: str
    bot_id: str
    owner_id: str
    owner_name: str
    tokens: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        """The latest token issued for this workspace (after an OAuth exchange)."""
        if not self.tokens:
            raise RuntimeError(f"no token issued for workspace {self.name!r} yet: sign in first")
        return self.tokens[-1]


Handler = Callable[[RecordedRequest, Json, list[str]], Json]


class FakeNotion(FakeServer):
    """In-memory Notion behind a real HTTP server; see the module docstring."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.revoked = False
        # Workspaces and OAuth (see the module docstring).
        self.oauth_client_id = OAUTH_CLIENT_ID
        self.oauth_client_secret = OAUTH_CLIENT_SECRET
        self.workspaces: dict[str, Workspace] = {}
        self._token_workspace: dict[str, str] = {}
        self._revoked_tokens: set[str] = set()
        self._refresh_workspace: dict[str, str] = {}  # live refresh token -> workspace id
        self.grant_refresh_tokens = True
        self._owner: dict[str, str] = {}  # object id -> workspace id
        self._grants: dict[str, tuple[str, str]] = {}  # code -> (workspace id, redirect uri)
        self._signing_in: str | None = None
        self._deny_next = False
        self._token_failures: list[Reply] = []  # served by POST /v1/oauth/token first
        self._order_seed = secrets.token_hex(8)  # unsorted queries: an order of the fake's own
        self.wiki_entries: dict[str, list[Json]] = {}  # data source id -> data_source objects
        self._caller: str | None = None  # workspace of the request being served
        self._block_count = 0
        self.databases: dict[str, Database] = {}
        self.data_sources: dict[str, DataSource] = {}
        self.pages: dict[str, Json] = {}
        self.blocks: dict[str, Json] = {}
        self.children: dict[str, list[str]] = {}  # parent (page or block) id -> block ids
        self.files = FileUploads(lambda: self.base_url)
        self._state = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"databases/([^/]+)"), self._get_database),
            ("GET", re.compile(r"data_sources/([^/]+)"), self._get_data_source),
            ("PATCH", re.compile(r"data_sources/([^/]+)"), self._patch_data_source),
            ("POST", re.compile(r"data_sources/([^/]+)/query"), self._query),
            ("POST", re.compile(r"pages"), self._create_page),
            ("GET", re.compile(r"pages/([^/]+)"), self._get_page),
            ("PATCH", re.compile(r"pages/([^/]+)"), self._patch_page),
            ("GET", re.compile(r"blocks/([^/]+)/children"), self._list_children),
            ("PATCH", re.compile(r"blocks/([^/]+)/children"), self._append_children),
            ("GET", re.compile(r"users/me"), self._me),
            ("POST", re.compile(r"file_uploads"), self._create_upload),
            ("GET", re.compile(r"file_uploads"), self._list_uploads),
            ("GET", re.compile(r"file_uploads/([^/]+)"), self._get_upload),
            ("POST", re.compile(r"file_uploads/([^/]+)/send"), self._send_upload),
            ("POST", re.compile(r"file_uploads/([^/]+)/complete"), self._complete_upload),
        ]

    # == helpers for tests =================================================================

    def add_database(
        self,
        title: str,
        properties: dict[str, Any],
        database_id: str | None = None,
        workspace: Workspace | str | None = None,
    ) -> tuple[str, str]:
        """Create a database with one data source; return ``(database_id, data_source_id)``.

        ``workspace``: whose it is (a :class:`Workspace` or its id; default: ``token``'s).

        ``properties`` maps names to a type (``"title"``), a short spec
        (``{"type": "multi_select"}``, ``{"type": "status", "options": ["a", "b"]}``) or a
        full Notion property object; ids and empty options are filled in.
        """
        taken: set[str] = set()
        schema = {
            name: build_property(name, spec, taken, f"properties.{name}")
            for name, spec in properties.items()
        }
        if sum(p["type"] == "title" for p in schema.values()) != 1:
            raise ValueError("a Notion data source needs exactly one title property")
        db_id = normalize_id(database_id) if database_id else new_id()
        ds = DataSource(id=new_id(), database_id=db_id, title=title, properties=schema)
        with self._state:
            self.data_sources[ds.id] = ds
            self.databases[db_id] = Database(id=db_id, title=title, data_source_ids=[ds.id])
            owner = workspace.id if isinstance(workspace, Workspace) else workspace
            self._owner[db_id] = self._owner[ds.id] = owner or DEFAULT_WORKSPACE
        return db_id, ds.id

    def add_page(
        self,
        data_source_id: str,
        values: dict[str, Any] | None = None,
        *,
        children: list[Json] | None = None,
    ) -> str:
        """Create a page from plain values (``{"Name": "x", "Tags": ["a"], "Done": True}``)."""
        with self._state:
            ds = self._data_source(data_source_id)
            properties = {
                name: to_notion_value(find_property(ds.properties, name)["type"], value)
                for name, value in (values or {}).items()
            }
            body = {"parent": {"data_source_id": ds.id}, "properties": properties}
            if children:
                body["children"] = children
            with self.files.attaching():
                self._block_count = 0
                return str(self._create_page(None, body, [])["id"])

    @property
    def bot_user_id(self) -> str:
        """The integration's bot user (``GET /v1/users/me``): the author Notion names in the
        events of the integration's own writes."""
        return FAKE_USER_ID

    def add_wiki_entry(self, data_source_id: str, title: str) -> str:
        """Make the data source a wiki's: its queries also return a nested data source
        object (``"object": "data_source"``), as Notion's do for wikis."""
        with self._state:
            ds = self._data_source(data_source_id)
            nested = DataSource(id=new_id(), database_id=ds.database_id, title=title, properties={})
            entry = nested.to_json()
            self.wiki_entries.setdefault(ds.id, []).append(entry)
            return str(entry["id"])

    def change_property_type(self, data_source_id: str, name: str, new_type: str) -> None:
        """A person changes a column's type in Notion (select -> multi_select, url -> text)."""
        with self._state:
            self._patch_data_source(None, {"properties": {name: {new_type: {}}}}, [data_source_id])

    def edit_page(self, page_id: str, values: dict[str, Any]) -> None:
        """A person edits a page in Notion: plain values, as for :meth:`add_page`."""
        with self._state:
            page = self._page(page_id)
            schema = self._schema_for(page["parent"])
            properties = {
                name: to_notion_value(find_property(schema, name)["type"], value)
                for name, value in values.items()
            }
            self._patch_page(None, {"properties": properties}, [page["id"]])

    def pages_in(self, data_source_id: str, include_archived: bool = False) -> list[Json]:
        ds_id = normalize_id(data_source_id)
        with self._state:
            return [
                copy.deepcopy(page)
                for page in self.pages.values()
                if page["parent"].get("data_source_id") == ds_id
                and (include_archived or not page["in_trash"])
            ]

    def page(self, page_id: str) -> Json:
        with self._state:
            return copy.deepcopy(self._page(page_id))

    def schema(self, data_source_id: str) -> dict[str, Json]:
        """The data source's ``properties`` (name -> full property object)."""
        with self._state:
            return copy.deepcopy(self._data_source(data_source_id).properties)

    def blocks_of(self, parent_id: str) -> list[Json]:
        """Top-level blocks of a page (or children of a block), in read format."""
        with self._state:
            ids = self.children.get(normalize_id(parent_id), [])
            return [copy.deepcopy(self.blocks[i]) for i in ids]

    def page_text(self, page_id: str) -> str:
        """The plain text of a page's blocks (nested ones too), one block per line."""
        with self._state:
            return "\n".join(self._block_lines(normalize_id(page_id)))

    plain = staticmethod(plain)

    # -- file uploads (see the module docstring) ---------------------------------------------

    @property
    def uploads(self) -> dict[str, FileUpload]:
        """Every File Upload by id (live records: ``data``, ``filename``, ``content_type``,
        ``workspace_id``, ``expires_at``; ``status(now)``)."""
        return self.files.records

    @property
    def max_file_bytes(self) -> int:
        """The per-file limit of a send (default 5 MiB, a free workspace's; Notion also caps
        single-part sends at 20 MiB)."""
        return self.files.max_file_bytes

    @max_file_bytes.setter
    def max_file_bytes(self, limit: int) -> None:
        self.files.max_file_bytes = limit

    def uploaded_bytes(self, upload_id: str) -> bytes:
        """What was sent for an upload (``ValueError`` while it is pending)."""
        with self._state:
            data = self.files.records[normalize_id(upload_id)].data
        if data is None:
            raise ValueError(f"nothing was sent for file upload {upload_id} yet")
        return data

    def add_upload(
        self,
        data: bytes | None,
        filename: str = "picture.jpg",
        content_type: str = "image/jpeg",
        workspace: Workspace | None = None,
    ) -> str:
        """An upload made out of band (``data=None``: still pending); return its id."""
        owner = workspace.id if workspace else DEFAULT_WORKSPACE
        with self._state:
            return self.files.add(owner, filename, content_type, data).id

    def expire_upload(self, upload_id: str) -> None:
        """The upload's hour passes without it being attached: it becomes ``expired``."""
        with self._state:
            self.files.expire(upload_id)

    def cover_of(self, page_id: str) -> Json | None:
        """The page's cover: ``{"type": "file_upload", "id", "filename", "content_type",
        "bytes", "url"}`` for an attached upload, ``{"type": "external", "url"}``, or None."""
        with self._state:
            return self.files.described(self._page(page_id)["cover"])

    def images_of(self, page_id: str) -> list[Json]:
        """The page's image blocks, nested ones too, in reading order: as :meth:`cover_of`
        describes a file, plus ``caption`` (plain text)."""
        with self._state:
            return [
                {
                    **(self.files.described(block["image"]) or {}),
                    "caption": plain_text(block["image"]["caption"]),
                }
                for block in self._blocks_under(normalize_id(page_id))
                if block["type"] == "image"
            ]

    def fail_next(
        self,
        status: int,
        code: str,
        retry_after: float | None = None,
        times: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with this error (e.g. 429 ``rate_limited``)."""
        body = _error_body(status, code, message or f"Injected {code} from FakeNotion.")
        headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else {}
        self.failures.push(Reply(status, body, headers), times)

    def refuse_image_url(self, url: str) -> None:
        """Notion refuses to show this external image (a cover or an image block): 400
        ``validation_error`` "Invalid image url." (a signed CDN link, an address it cannot
        fetch)."""
        self.files.refused_urls.add(url)

    def conflict_next(self, times: int = 1) -> None:
        """The next ``times`` requests answer 409 ``conflict_error``, as Notion does when a
        transaction collides: "Make sure the parameters are up to date and try again."
        https://developers.notion.com/reference/status-codes#error-codes"""
        message = "Conflict occurred while saving. Please try again."
        self.fail_next(409, "conflict_error", times=times, message=message)

    def fail_token_endpoint(self, status: int, times: int = 1) -> None:
        """The next ``times`` calls of ``POST /v1/oauth/token`` answer ``status`` (a 5xx or
        a 429 of Notion's, not a refusal of the grant)."""
        code = "rate_limited" if status == 429 else "internal_server_error"
        body = _error_body(status, code, f"Injected {status} from FakeNotion.")
        self._token_failures.extend(Reply(status, body) for _ in range(times))

    def revoke(self, token: str | None = None) -> None:
        """Later calls get 401 ``unauthorized`` (a revoked or rotated token): with ``token``,
        only that token's calls; without, every call."""
        if token is None:
            self.revoked = True
        else:
            self._revoked_tokens.add(token)

    def revoke_grant(self, workspace: Workspace) -> None:
        """The person disconnected the integration: every token of the workspace stops working,
        refresh tokens included."""
        with self._state:
            self._revoked_tokens.update(workspace.tokens)
            for token, owner in list(self._refresh_workspace.items()):
                if owner == workspace.id:
                    del self._refresh_workspace[token]

    def _people(self) -> dict[str, Json]:
        """The users a people property may name (full user objects): the integration's bot
        and the workspace owners."""
        owners = {w.owner_id: person(w.owner_id, w.owner_name) for w in self.workspaces.values()}
        return {FAKE_USER_ID: dict(FAKE_BOT), **owners}

    # -- workspaces and OAuth ------------------------------------------------------------

    def add_workspace(self, name: str, owner_name: str = "") -> Workspace:
        """A workspace whose person can connect it through the OAuth flow."""
        workspace = Workspace(new_id(), name, new_id(), new_id(), owner_name or name)
        with self._state:
            self.workspaces[workspace.id] = workspace
        return workspace

    def sign_in_as(self, workspace: Workspace) -> None:
        """The workspace the authorize page grants from now on (the person's choice there)."""
        self._signing_in = workspace.id

    def deny_next_sign_in(self) -> None:
        """The next authorization is cancelled by the person: ``?error=access_denied``."""
        self._deny_next = True

    # == HTTP ================================================================================

    def handle(self, request: RecordedRequest) -> Reply:
        try:
            if request.path.startswith("/v1/oauth/"):
                with self._state:
                    return self._oauth(request)
            if request.path.startswith("/files/") and request.method == "GET":
                with self._state:  # a hosted file's signed URL: no Notion headers
                    return self.files.serve(request.path)
            caller = self._check_headers(request)
            handler, args = self._route(request)
            # The only multipart route: its body is the file, read by the handler.
            body = {} if handler == self._send_upload else self._json_body(request)
            with self._state, self.files.attaching():
                self._caller = caller
                self._block_count = 0  # blocks in this request
                try:
                    result = handler(request, body, args)
                finally:
                    self._caller = None
            return Reply(200, {**result, "request_id": new_id()})
        except NotionError as err:
            return Reply(err.status, _error_body(err.status, err.code, err.message))

    def _check_headers(self, request: RecordedRequest) -> str:
        """The caller's workspace id."""
        auth = request.header("authorization") or ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        workspace = DEFAULT_WORKSPACE if token == self.token else self._token_workspace.get(token)
        if self.revoked or workspace is None or token in self._revoked_tokens:
            raise NotionError(401, "unauthorized", "API token is invalid.")
        if not request.header("notion-version"):
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be "
                "defined, instead was `undefined`.",
            )
        return workspace

    def _oauth(self, request: RecordedRequest) -> Reply:
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/v1/oauth/authorize"):
            return self._authorize(request)
        if route == ("POST", "/v1/oauth/token"):
            if self._token_failures:
                return self._token_failures.pop(0)
            return self._token(request)
        return Reply(400, _error_body(400, "invalid_request_url", "Invalid request URL."))

    def _authorize(self, request: RecordedRequest) -> Reply:
        """Notion's consent page, answered at once: 302 back to the redirect URI."""
        client_id = request.query_value("client_id")
        redirect_uri = request.query_value("redirect_uri") or ""
        if client_id != self.oauth_client_id:
            return Reply(400, f"FakeNotion: unknown OAuth client {client_id!r}")
        if request.query_value("response_type") != "code" or not redirect_uri:
            return Reply(400, "FakeNotion: needs response_type=code and a redirect_uri")
        state = request.query_value("state")
        answer: dict[str, str] = {}
        if self._deny_next:
            self._deny_next = False
            answer["error"] = "access_denied"
        elif self._signing_in is None:
            return Reply(400, "FakeNotion: nobody is signing in: call sign_in_as(workspace)")
        else:
            code = secrets.token_urlsafe(16)
            self._grants[code] = (self._signing_in, redirect_uri)
            answer["code"] = code
        if state is not None:
            answer["state"] = state
        joiner = "&" if "?" in redirect_uri else "?"
        return Reply(302, "", {"Location": redirect_uri + joiner + urlencode(answer)})

    def _token(self, request: RecordedRequest) -> Reply:
        """Exchange a code for a workspace token; the client authenticates with HTTP Basic."""
        if _basic_auth(request) != (self.oauth_client_id, self.oauth_client_secret):
            return Reply(401, _oauth_error("invalid_client", "Invalid client credentials."))
        body = (
            request.json
            if isinstance(request.json, dict)
            else {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        )
        if body.get("grant_type") == "refresh_token":
            owner = self._refresh_workspace.pop(str(body.get("refresh_token")), None)
            if owner is None:
                return Reply(400, _oauth_error("invalid_grant", "Invalid refresh token."))
            workspace = self.workspaces[owner]
        elif body.get("grant_type") == "authorization_code":
            grant = self._grants.pop(str(body.get("code")), None)
            if grant is None or grant[1] != body.get("redirect_uri"):
                return Reply(400, _oauth_error("invalid_grant", "Invalid code or redirect_uri."))
            workspace = self.workspaces[grant[0]]
        else:
            return Reply(400, _oauth_error("unsupported_grant_type", "Unsupported grant type."))
        token = "ntn_" + secrets.token_urlsafe(24)
        workspace.tokens.append(token)
        self._token_workspace[token] = workspace.id
        refresh = None
        if self.grant_refresh_tokens:
            refresh = "nrt_" + secrets.token_urlsafe(24)
            self._refresh_workspace[refresh] = workspace.id
        owner = {
            "object": "user",
            "id": workspace.owner_id,
            "name": workspace.owner_name,
            "avatar_url": None,
            "type": "person",
            "person": {},
        }
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "refresh_token": refresh,
                "bot_id": workspace.bot_id,
                "workspace_id": workspace.id,
                "workspace_name": workspace.name,
                "workspace_icon": None,
                "owner": {"type": "user", "user": owner},
                "duplicated_template_id": None,
                "request_id": new_id(),
            },
        )

    def _visible(self, object_id: str) -> bool:
        """Whether the caller's workspace owns the object (always, outside a request)."""
        return self._caller is None or self._owner.get(object_id, DEFAULT_WORKSPACE) == (
            self._caller
        )

    def _route(self, request: RecordedRequest) -> tuple[Handler, list[str]]:
        path = request.path.removeprefix("/v1/").strip("/")
        if request.path.startswith("/v1/"):
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(path)
                if match and method == request.method:
                    return handler, list(match.groups())
        raise NotionError(400, "invalid_request_url", "Invalid request URL.")

    @staticmethod
    def _json_body(request: RecordedRequest) -> Json:
        if len(request.body) > MAX_BODY_BYTES:
            raise validation_error(f"Request body too large: {len(request.body)} bytes.")
        if not request.body:
            return {}
        if not isinstance(request.json, dict):
            raise NotionError(400, "invalid_json", "Error parsing JSON body.")
        return request.json

    # == databases and data sources ==========================================================

    def _get_database(self, request: Any, body: Json, args: list[str]) -> Json:
        db_id = normalize_id(args[0], "path.database_id")
        if db_id not in self.databases or not self._visible(db_id):
            raise _not_found("database", db_id)
        return self.databases[db_id].to_json(self.data_sources)

    def _get_data_source(self, request: Any, body: Json, args: list[str]) -> Json:
        return self._data_source(args[0]).to_json()

    def _patch_data_source(self, request: Any, body: Json, args: list[str]) -> Json:
        ds = self._data_source(args[0])
        if "title" in body:
            ds.title = plain_text(rich_text_in(body["title"], "body.title"))
        updates = body.get("properties") or {}
        if not isinstance(updates, dict):
            raise validation_error("body.properties should be an object.")
        schema = copy.deepcopy(ds.properties)  # all or nothing
        for key, spec in updates.items():
            _apply_schema_update(schema, key, spec)
        if sum(p["type"] == "title" for p in schema.values()) != 1:
            raise validation_error("A data source must have exactly one title property.")
        ds.properties = schema
        self._reshape_pages(ds)
        return ds.to_json()

    def _reshape_pages(self, ds: DataSource) -> None:
        """Follow a schema change in the pages: renamed keys, dropped or retyped values."""
        for page in self.pages.values():
            if page["parent"].get("data_source_id") != ds.id:
                continue
            by_id = {value["id"]: value for value in page["properties"].values()}
            reshaped = {}
            for name, prop in ds.properties.items():
                value = by_id.get(prop["id"])
                if value is None or value["type"] != prop["type"]:
                    ctx = ValueContext(prop, page["id"], page["created_time"], now_iso())
                    value = default_value(ctx)
                reshaped[name] = value
            page["properties"] = reshaped

    def _query(self, request: Any, body: Json, args: list[str]) -> Json:
        ds = self._data_source(args[0])
        page_size = _page_size(body.get("page_size"))
        matches = compile_filter(ds.properties, body.get("filter"))
        pages = [
            p
            for p in self.pages.values()
            if p["parent"].get("data_source_id") == ds.id and not p["in_trash"] and matches(p)
        ]
        if body.get("sorts"):
            pages = sort_pages(ds.properties, pages, body.get("sorts"))
        else:
            # "sorts: When supplied, orders the results" - without them Notion promises no
            # order (https://developers.notion.com/reference/query-a-data-source): the fake's
            # is stable per server (cursors work) but never the order rows were added in.
            pages.sort(key=lambda p: hashlib.sha256((self._order_seed + p["id"]).encode()).digest())
        # A wiki's query returns its nested data sources among the pages ("page_or_data_source"
        # results: https://developers.notion.com/reference/query-a-data-source).
        wiki = {entry["id"]: entry for entry in self.wiki_entries.get(ds.id, [])}
        return _paginate(
            [p["id"] for p in pages] + list(wiki),
            {**self.pages, **wiki},
            body.get("start_cursor"),
            page_size,
            "page_or_data_source",
        )

    # == pages =================================================================================

    def _create_page(self, request: Any, body: Json, args: list[str]) -> Json:
        parent, schema = self._page_parent(body.get("parent"))
        page_id = new_id()
        stamp = now_iso()
        values = body.get("properties") or {}
        if not isinstance(values, dict):
            raise validation_error("body.properties should be an object.")
        schema = copy.deepcopy(schema)  # new options land in the schema only on success
        properties = self._write_properties(schema, values, page_id, stamp, stamp)
        siblings = sum(p["parent"] == parent for p in self.pages.values())
        for name, prop in schema.items():
            if name not in properties:
                ctx = ValueContext(prop, page_id, stamp, stamp, sequence=siblings + 1)
                properties[name] = default_value(ctx)
        blocks = self._build_blocks(body.get("children") or [], page_id, "page_id")
        visuals = self._visuals_in(body)
        page = {
            "object": "page",
            "id": page_id,
            "created_time": stamp,
            "last_edited_time": stamp,
            "created_by": user_ref(),
            "last_edited_by": user_ref(),
            "cover": visuals.get("cover"),
            "icon": visuals.get("icon"),
            "parent": parent,
            # `archived` (deprecated), `in_trash` and `is_archived` move together, as the
            # SDK's recorded 2025-09-03 responses show (tests/data/notion/README.md).
            "archived": False,
            "in_trash": False,
            "is_archived": False,
            "is_locked": False,
            "properties": properties,
            "url": page_url(page_id),
            "public_url": None,
        }
        self._commit_schema(parent, schema)
        self.pages[page_id] = page
        self._owner[page_id] = self._owner.get(
            parent.get("data_source_id") or parent.get("page_id") or "", DEFAULT_WORKSPACE
        )
        self._store_blocks(page_id, blocks)
        return copy.deepcopy(page)

    def _get_page(self, request: Any, body: Json, args: list[str]) -> Json:
        return copy.deepcopy(self._page(args[0]))

    def _patch_page(self, request: Any, body: Json, args: list[str]) -> Json:
        page = self._page(args[0])
        trash = body.get("in_trash", body.get("archived"))
        if trash is not None and not isinstance(trash, bool):
            raise validation_error("body.archived should be a boolean.")
        values = body.get("properties") or {}
        if values and page["in_trash"] and trash is not False:
            raise validation_error(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        schema = copy.deepcopy(self._schema_for(page["parent"]))
        stamp = now_iso()
        written = self._write_properties(schema, values, page["id"], page["created_time"], stamp)
        visuals = self._visuals_in(body)
        self._commit_schema(page["parent"], schema)
        page["properties"].update(written)
        page.update(visuals)
        if trash is not None:
            page["archived"] = page["in_trash"] = page["is_archived"] = trash
        page["last_edited_time"] = stamp
        return copy.deepcopy(page)

    def _visuals_in(self, body: Json) -> Json:
        """The page's ``icon`` and ``cover`` given in ``body`` (null removes one), in read
        format."""
        visuals: Json = {}
        if body.get("cover") is not None:
            visuals["cover"] = self.files.file_object_in(body["cover"], "body.cover", self._caller)
        if body.get("icon") is not None:
            visuals["icon"] = self.files.icon_in(body["icon"], "body.icon", self._caller)
        return {key: visuals.get(key) for key in ("icon", "cover") if key in body}

    def _write_properties(
        self, schema: dict[str, Json], values: Json, page_id: str, created: str, edited: str
    ) -> dict[str, Json]:
        written = {}
        for key, value_obj in values.items():
            try:
                prop = find_property(schema, key)
            except NotionError:
                raise validation_error(f"{key} is not a property that exists.") from None
            ctx = ValueContext(prop, page_id, created, edited, self._people())
            if prop["type"] == "files" and isinstance(value_obj, dict):
                value_obj = self._files_value(value_obj, f"body.properties.{key}")
            written[prop["name"]] = write_value(ctx, value_obj)
        return written

    def _files_value(self, value_obj: Json, where: str) -> Json:
        """A files value may attach uploads (``{"type": "file_upload", "file_upload": {"id"},
        "name"}``), held to the same rules as a cover
        (https://developers.notion.com/reference/page-property-values#files); they are stored
        as the hosted files Notion returns."""
        items = value_obj.get("files")
        if not isinstance(items, list):
            return value_obj
        shaped = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("type", "") == "file_upload":
                hosted = self.files.file_object_in(item, f"{where}.files[{i}]", self._caller)
                shaped.append({"name": item.get("name") or "file", "_hosted": hosted})
            else:
                shaped.append(item)
        return {**value_obj, "files": shaped}

    def _page_parent(self, parent: Any) -> tuple[Json, dict[str, Json]]:
        """The stored parent object and the schema pages under it must follow."""
        if not isinstance(parent, dict):
            raise validation_error("body.parent should be an object.")
        if "data_source_id" in parent:
            ds = self._data_source(parent["data_source_id"], "body.parent.data_source_id")
            return _ds_parent(ds), ds.properties
        if "database_id" in parent:
            db_id = normalize_id(parent["database_id"], "body.parent.database_id")
            if db_id not in self.databases or not self._visible(db_id):
                raise _not_found("database", db_id)
            ds_ids = self.databases[db_id].data_source_ids
            if len(ds_ids) != 1:
                raise validation_error("Database has several data sources: use data_source_id.")
            ds = self.data_sources[ds_ids[0]]
            return _ds_parent(ds), ds.properties
        if "page_id" in parent:
            page = self._page(parent["page_id"])
            return {"type": "page_id", "page_id": page["id"]}, _PAGE_SCHEMA
        raise validation_error("body.parent should define data_source_id, database_id or page_id.")

    def _schema_for(self, parent: Json) -> dict[str, Json]:
        if "data_source_id" in parent:
            return self.data_sources[parent["data_source_id"]].properties
        return _PAGE_SCHEMA

    def _commit_schema(self, parent: Json, schema: dict[str, Json]) -> None:
        if "data_source_id" in parent:
            self.data_sources[parent["data_source_id"]].properties = schema

    # == blocks ================================================================================

    def _list_children(self, request: RecordedRequest, body: Json, args: list[str]) -> Json:
        parent_id = self._block_parent(args[0])
        page_size = _page_size(_int_or_none(request.query_value("page_size")))
        ids = self.children.get(parent_id, [])
        return _paginate(ids, self.blocks, request.query_value("start_cursor"), page_size, "block")

    def _append_children(self, request: Any, body: Json, args: list[str]) -> Json:
        parent_id = self._block_parent(args[0])
        kind = "page_id" if parent_id in self.pages else "block_id"
        blocks = self._build_blocks(body.get("children"), parent_id, kind)
        self._store_blocks(parent_id, blocks)
        if parent_id in self.blocks:
            self.blocks[parent_id]["has_children"] = True
        results = [copy.deepcopy(self.blocks[b["id"]]) for b, _ in blocks]
        return {
            "object": "list",
            "results": results,
            "next_cursor": None,
            "has_more": False,
            "type": "block",
            "block": {},
        }

    def _block_parent(self, raw_id: str) -> str:
        parent_id = normalize_id(raw_id, "path.block_id")
        if (parent_id not in self.pages and parent_id not in self.blocks) or not self._visible(
            parent_id
        ):
            raise _not_found("block", parent_id)
        return parent_id

    def _build_blocks(
        self,
        children: Any,
        parent_id: str,
        parent_kind: str,
        where: str = "body.children",
        depth: int = 1,
    ) -> list[tuple[Json, list[Any]]]:
        """Validated blocks in read format, each with its (still unbuilt) children.

        "we allow up to two levels of nesting in a single request"
        (https://developers.notion.com/reference/patch-block-children); at most 1000 blocks
        in one request (https://developers.notion.com/reference/request-limits)."""
        if not isinstance(children, list):
            raise validation_error(f"{where} should be an array.")
        if children and depth > MAX_NESTING:
            raise validation_error(
                f"{where} is nested too deeply: at most {MAX_NESTING} levels of blocks in one"
                " request."
            )
        if len(children) > MAX_CHILDREN:
            raise validation_error(
                f"{where}.length should be ≤ `{MAX_CHILDREN}`, instead was `{len(children)}`."
            )
        built = []
        for i, raw in enumerate(children):
            block, nested = _block_in(raw, parent_id, parent_kind, f"{where}[{i}]")
            btype = block["type"]
            if btype in MEDIA_BLOCK_TYPES:
                block[btype] = self.files.media_in(
                    btype, block[btype], f"{where}[{i}].{btype}", self._caller
                )
            self._block_count += 1
            if self._block_count > MAX_BLOCKS_PER_REQUEST:
                raise validation_error(
                    f"Too many blocks: at most {MAX_BLOCKS_PER_REQUEST} in one request."
                )
            built.append(
                (
                    block,
                    self._build_blocks(
                        nested, block["id"], "block_id", f"{where}[{i}].children", depth + 1
                    ),
                )
            )
        return built

    def _store_blocks(self, parent_id: str, blocks: list[tuple[Json, list[Any]]]) -> None:
        for block, nested in blocks:
            self.blocks[block["id"]] = block
            self._owner[block["id"]] = self._owner.get(parent_id, DEFAULT_WORKSPACE)
            self.children.setdefault(parent_id, []).append(block["id"])
            self._store_blocks(block["id"], nested)

    def _blocks_under(self, parent_id: str) -> list[Json]:
        """Every block under a page or block, depth first, in reading order."""
        found = []
        for block_id in self.children.get(parent_id, []):
            found.append(self.blocks[block_id])
            found.extend(self._blocks_under(block_id))
        return found

    def _block_lines(self, parent_id: str) -> list[str]:
        lines = []
        for block_id in self.children.get(parent_id, []):
            block = self.blocks[block_id]
            content = block[block["type"]]
            if isinstance(content, dict) and "rich_text" in content:
                lines.append(plain_text(content["rich_text"]))
            lines.extend(self._block_lines(block_id))
        return lines

    # == file uploads ===========================================================================

    def _create_upload(self, request: Any, body: Json, args: list[str]) -> Json:
        return self.files.create(body, self._caller or DEFAULT_WORKSPACE)

    def _send_upload(self, request: RecordedRequest, body: Json, args: list[str]) -> Json:
        return self.files.send(
            args[0], request.header("content-type"), request.body, self._caller or DEFAULT_WORKSPACE
        )

    def _get_upload(self, request: Any, body: Json, args: list[str]) -> Json:
        return self.files.retrieve(args[0], self._caller)

    def _list_uploads(self, request: RecordedRequest, body: Json, args: list[str]) -> Json:
        page_size = _page_size(_int_or_none(request.query_value("page_size")))
        shown = self.files.listed(self._caller, request.query_value("status"))
        cursor = request.query_value("start_cursor")
        return _paginate(list(shown), shown, cursor, page_size, "file_upload")

    def _complete_upload(self, request: Any, body: Json, args: list[str]) -> Json:
        upload = self.files.retrieve(args[0], self._caller)  # 404 for an unknown upload
        raise validation_error(
            f"File upload {upload['id']} is not a multi_part upload: only multi_part uploads "
            "are completed."
        )

    # == misc =================================================================================

    def _me(self, request: Any, body: Json, args: list[str]) -> Json:
        return {
            **user_ref(),
            "type": "bot",
            "name": "FakeNotion integration",
            "avatar_url": None,
            "bot": {
                "owner": {"type": "workspace", "workspace": True},
                "workspace_name": "FakeNotion",
                "workspace_id": self._caller or DEFAULT_WORKSPACE,
                "workspace_limits": {"max_file_upload_size_in_bytes": self.max_file_bytes},
            },
        }

    def _data_source(self, raw_id: Any, where: str = "path.data_source_id") -> DataSource:
        ds_id = normalize_id(raw_id, where)
        if ds_id not in self.data_sources or not self._visible(ds_id):
            raise _not_found("data source", ds_id)
        return self.data_sources[ds_id]

    def _page(self, raw_id: Any) -> Json:
        page_id = normalize_id(raw_id, "path.page_id")
        if page_id not in self.pages or not self._visible(page_id):
            raise _not_found("page", page_id)
        return self.pages[page_id]


# == module helpers ==========================================================================

_PAGE_SCHEMA: dict[str, Json] = {
    "title": {"id": "title", "name": "title", "type": "title", "title": {}}
}


def _error_body(status: int, code: str, message: str) -> Json:
    return {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "request_id": new_id(),
    }


def _oauth_error(code: str, description: str) -> Json:
    return {"error": code, "error_description": description}


def _basic_auth(request: RecordedRequest) -> tuple[str, str] | None:
    header = request.header("authorization") or ""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _not_found(kind: str, object_id: str) -> NotionError:
    return NotionError(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
        "databases are shared with your integration.",
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _ds_parent(ds: DataSource) -> Json:
    return {"type": "data_source_id", "data_source_id": ds.id, "database_id": ds.database_id}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        raise validation_error(f"page_size should be a number, instead was `{text}`.") from None


def _page_size(value: Any) -> int:
    if value is None:
        return MAX_PAGE_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise validation_error(f"body.page_size should be a positive integer, was `{value}`.")
    if value > MAX_PAGE_SIZE:
        raise validation_error(
            f"body.page_size should be ≤ `{MAX_PAGE_SIZE}`, instead was `{value}`."
        )
    return value


def _paginate(ids: list[str], store: dict[str, Json], cursor: Any, size: int, kind: str) -> Json:
    start = 0
    if cursor is not None:
        cursor_id = normalize_id(cursor, "body.start_cursor")
        if cursor_id not in ids:
            raise validation_error(f"start_cursor `{cursor}` is not valid for this query.")
        start = ids.index(cursor_id)
    window = ids[start : start + size]
    has_more = start + size < len(ids)
    return {
        "object": "list",
        "results": [copy.deepcopy(store[i]) for i in window],
        "next_cursor": ids[start + size] if has_more else None,
        "has_more": has_more,
        "type": kind,
        kind: {},
    }


def _apply_schema_update(schema: dict[str, Json], key: str, spec: Any) -> None:
    """One entry of ``PATCH /v1/data_sources/{id}`` ``properties`` (by name or id)."""
    existing = next((p for p in schema.values() if key in (p["name"], p["id"])), None)
    where = f"body.properties.{key}"
    if spec is None:
        if existing is None:
            raise validation_error(f"{key} is not a property that exists.")
        del schema[existing["name"]]
        return
    if not isinstance(spec, dict):
        raise validation_error(f"{where} should be an object or `null`.")
    new_name = spec.get("name", existing["name"] if existing else key)
    has_type = "type" in spec or any(k in spec for k in PROPERTY_TYPES)
    if existing is None and not has_type:
        raise validation_error(f"{key} is not a property that exists.")
    if has_type:
        prop = _typed_update(existing, new_name, spec, schema, where)
    else:
        prop = {**existing, "name": new_name}  # rename only
    if existing is not None:
        del schema[existing["name"]]
    if new_name in schema:
        raise validation_error(f"A property named {new_name} already exists.")
    schema[new_name] = prop


def _typed_update(
    existing: Json | None, name: str, spec: Json, schema: dict[str, Json], where: str
) -> Json:
    ptype = property_type_of(spec, where)
    adding = ptype == "status" and (spec.get("status") or {}).get("options")
    if adding and existing is not None and existing["type"] == "status":
        return _add_status_options(existing, name, spec["status"]["options"], where)
    if existing is not None and existing["type"] == ptype:
        prop = copy.deepcopy(existing)
        prop["name"] = name
        if ptype in OPTION_TYPES and ptype != "status" and "options" in (spec.get(ptype) or {}):
            prop[ptype]["options"] = _merge_options(
                prop[ptype]["options"], spec[ptype]["options"], where
            )
        return prop
    if existing is not None and existing["type"] == "title":
        raise validation_error("The type of the title property cannot be changed.")
    taken = {p["id"] for p in schema.values()}
    prop = build_property(name, spec, taken, where)
    if existing is not None:
        prop["id"] = existing["id"]
    return prop


def _add_status_options(existing: Json, name: str, wanted: Any, where: str) -> Json:
    """Status options can be added (and renamed or recoloured by id) through the API: "New
    options are assigned to the To-do group" (notion-sdk-js StatusPropertyConfigUpdateRequest,
    for https://developers.notion.com/reference/update-data-source-properties). Options left
    out are kept; nothing is ever removed."""
    if not isinstance(wanted, list) or len(wanted) > 100:
        raise validation_error(f"{where}.status.options should be an array of ≤ 100 options.")
    prop = copy.deepcopy(existing)
    prop["name"] = name
    config = prop["status"]
    by_id = {o["id"]: o for o in config["options"]}
    by_name = {o["name"]: o for o in config["options"]}
    to_do = next(g for g in config["groups"] if g["name"] == "To Do")
    for i, spec in enumerate(wanted):
        here = f"{where}.status.options[{i}]"
        if not isinstance(spec, dict) or not (spec.get("id") or spec.get("name")):
            raise validation_error(f"{here} should be an object with a name or an id.")
        if spec.get("id"):
            option = by_id.get(spec["id"])
            if option is None:
                raise validation_error(f"{here}.id `{spec['id']}` is not an option of {name}.")
            if spec.get("name") and spec["name"] != option["name"]:
                check_option_name(spec["name"], here)
                option["name"] = spec["name"]
            continue
        if spec["name"] in by_name:
            continue
        option = make_option(spec, here)
        config["options"].append(option)
        by_name[option["name"]] = by_id[option["id"]] = option
        to_do["option_ids"].append(option["id"])
    return prop


def _merge_options(current: list[Json], wanted: Any, where: str) -> list[Json]:
    if not isinstance(wanted, list) or len(wanted) > 100:
        raise validation_error(f"{where}.options should be an array of ≤ 100 options.")
    by_name = {o["name"]: o for o in current}
    merged = []
    for i, spec in enumerate(wanted):
        name = spec if isinstance(spec, str) else spec.get("name")
        check_option_name(name, f"{where}.options[{i}]")
        merged.append(by_name.get(name) or make_option(spec, f"{where}.options[{i}]"))
    return merged


def _block_in(raw: Any, parent_id: str, parent_kind: str, where: str) -> tuple[Json, list[Any]]:
    if not isinstance(raw, dict):
        raise validation_error(f"{where} should be a block object.")
    btype = raw.get("type") or next((k for k in raw if k not in ("object", "type")), None)
    content = raw.get(btype) if btype else None
    if not isinstance(content, dict):
        raise validation_error(f"{where} should define a block type and its content.")
    content = dict(content)
    nested = content.pop("children", None) or []
    if btype in TEXT_BLOCK_TYPES:
        content["rich_text"] = rich_text_in(
            content.get("rich_text", []), f"{where}.{btype}.rich_text"
        )
        content.setdefault("color", "default")
    stamp = now_iso()
    block = {
        "object": "block",
        "id": new_id(),
        "parent": {"type": parent_kind, parent_kind: parent_id},
        "created_time": stamp,
        "last_edited_time": stamp,
        "created_by": user_ref(),
        "last_edited_by": user_ref(),
        "has_children": bool(nested),
        "archived": False,
        "in_trash": False,
        "type": btype,
        btype: content,
    }
    return block, nested
