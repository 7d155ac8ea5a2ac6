"""The HTTP fakes in tests/fakes, driven through the real SDKs to prove the wire format."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import notion_client
import openai
import pytest
from google import genai
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import vision
from google.genai import errors as genai_errors
from google.genai import types
from notion_client import APIResponseError
from notion_client.helpers import collect_paginated_api

from tests.fakes import FakeGemini, FakeNotion, FakeOpenAI, FakeVision, plain

# == Notion ================================================================================

SCHEMA = {
    "Name": {"type": "title"},
    "Link": {"type": "url"},
    "State": {"type": "select", "options": ["pending", "done"]},
    "Stage": {"type": "status", "options": ["queued", "running", "finished"]},
    "Tags": {"type": "multi_select"},
    "Notes": {"type": "rich_text"},
    "Servings": {"type": "number"},
    "Checked": {"type": "checkbox"},
    "Cooked on": {"type": "date"},
}


@pytest.fixture
def notion() -> Iterator[FakeNotion]:
    with FakeNotion() as fake:
        yield fake


@pytest.fixture
def client(notion: FakeNotion) -> notion_client.Client:
    return notion_client.Client(auth=notion.token, base_url=notion.base_url)


@pytest.fixture
def ds_id(notion: FakeNotion) -> str:
    return notion.add_database("Videos", SCHEMA)[1]


def test_notion_database_has_a_data_source_with_the_schema(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    db_id, ds_id = notion.add_database("Videos", SCHEMA)

    database = client.databases.retrieve(database_id=db_id.replace("-", ""))
    assert database["object"] == "database"
    assert database["data_sources"] == [{"id": ds_id, "name": "Videos"}]

    source = client.data_sources.retrieve(data_source_id=ds_id)
    assert source["properties"]["Tags"]["type"] == "multi_select"
    assert source["properties"]["Tags"]["multi_select"] == {"options": []}
    assert source["properties"]["Name"]["id"] == "title"
    assert [o["name"] for o in source["properties"]["State"]["select"]["options"]] == [
        "pending",
        "done",
    ]

    page_id = notion.add_page(ds_id, {"Name": "a", "Notes": "kept across the rename"})
    updated = client.data_sources.update(
        data_source_id=ds_id,
        properties={"Summary": {"rich_text": {}}, "Notes": {"name": "Remarks"}},
    )
    assert updated["properties"]["Summary"]["type"] == "rich_text"
    assert "Remarks" in updated["properties"] and "Notes" not in updated["properties"]
    assert plain(notion.page(page_id), "Remarks") == "kept across the rename"
    assert notion.requests[-1].headers["notion-version"] == "2025-09-03"


def test_notion_query_filters_and_paginates(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    for i in range(250):
        notion.add_page(
            ds_id,
            {"Name": f"video {i}", "State": "pending" if i % 2 else "done", "Checked": i < 200},
        )
    pending_checked = {
        "and": [
            {"property": "State", "select": {"equals": "pending"}},
            {"property": "Checked", "checkbox": {"equals": True}},
        ]
    }

    first = client.data_sources.query(data_source_id=ds_id, page_size=100)
    assert len(first["results"]) == 100 and first["has_more"] and first["next_cursor"]

    everything = collect_paginated_api(client.data_sources.query, data_source_id=ds_id)
    assert len(everything) == 250
    assert len({p["id"] for p in everything}) == 250

    pending = collect_paginated_api(
        client.data_sources.query, data_source_id=ds_id, filter=pending_checked, page_size=30
    )
    assert len(pending) == 100
    assert all(plain(p, "State") == "pending" and plain(p, "Checked") for p in pending)
    assert len(notion.requests_to("/query")) == 1 + 3 + 4

    either = client.data_sources.query(
        data_source_id=ds_id,
        filter={
            "or": [
                {"property": "Name", "title": {"equals": "video 3"}},
                {"property": "Name", "title": {"equals": "video 4"}},
            ]
        },
    )
    assert sorted(plain(p, "Name") for p in either["results"]) == ["video 3", "video 4"]


def test_notion_create_update_and_read_a_page(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    page = client.pages.create(
        parent={"data_source_id": ds_id},
        properties={
            "Name": {"title": [{"text": {"content": "Pasta"}}]},
            "Link": {"url": "https://www.tiktok.com/@x/video/1"},
            "Tags": {"multi_select": [{"name": "italian"}, {"name": "quick"}]},
            "Stage": {"status": {"name": "queued"}},
            "Servings": {"number": 2},
            "Cooked on": {"date": {"start": "2026-01-02"}},
        },
        children=[{"paragraph": {"rich_text": [{"text": {"content": "Boil water."}}]}}],
    )
    assert page["url"] == "https://www.notion.so/" + page["id"].replace("-", "")
    assert page["parent"]["data_source_id"] == ds_id
    assert page["properties"]["Name"]["title"][0]["plain_text"] == "Pasta"
    assert plain(page, "Tags") == ["italian", "quick"]
    assert plain(page, "Checked") is False and plain(page, "Notes") == ""
    tag_options = notion.schema(ds_id)["Tags"]["multi_select"]["options"]
    assert [o["name"] for o in tag_options] == ["italian", "quick"]  # new options were added

    client.pages.update(page_id=page["id"], properties={"Stage": {"status": {"name": "running"}}})
    assert plain(client.pages.retrieve(page_id=page["id"]), "Stage") == "running"

    client.blocks.children.append(
        block_id=page["id"],
        children=[
            {
                "type": "bulleted_list_item",
                "bulleted_list_item": {"rich_text": [{"text": {"content": "Salt."}}]},
            }
        ],
    )
    blocks = client.blocks.children.list(block_id=page["id"])["results"]
    assert [b["type"] for b in blocks] == ["paragraph", "bulleted_list_item"]
    assert notion.page_text(page["id"]) == "Boil water.\nSalt."

    client.pages.update(page_id=page["id"], archived=True)
    assert notion.pages_in(ds_id) == []
    assert notion.page(page["id"])["archived"] is True


@pytest.mark.parametrize(
    ("properties", "message_part"),
    [
        ({"Notes": {"rich_text": [{"text": {"content": "x" * 2001}}]}}, "2000"),
        ({"Notes": {"rich_text": [{"text": {"content": "x"}}] * 101}}, "100"),
        ({"State": {"select": {"name": "a, b"}}}, "commas"),
        ({"Tags": {"multi_select": [{"name": f"t{i}"} for i in range(101)]}}, "100"),
        ({"Nope": {"rich_text": []}}, "not a property that exists"),
        ({"Servings": {"number": "2"}}, "expected to be number"),
        ({"Stage": {"select": {"name": "queued"}}}, "expected to be status"),
        ({"Stage": {"status": {"name": "brand new"}}}, "does not exist"),
    ],
)
def test_notion_rejects_what_the_real_api_rejects(
    client: notion_client.Client, ds_id: str, properties: dict, message_part: str
) -> None:
    with pytest.raises(APIResponseError) as info:
        client.pages.create(parent={"data_source_id": ds_id}, properties=properties)
    assert info.value.status == 400
    assert info.value.code == "validation_error"
    assert message_part in str(info.value)


def test_notion_filter_type_must_match_property_type(
    client: notion_client.Client, ds_id: str
) -> None:
    with pytest.raises(APIResponseError, match="does not match filter select"):
        client.data_sources.query(
            data_source_id=ds_id, filter={"property": "Stage", "select": {"equals": "queued"}}
        )


def test_notion_client_retries_429_honouring_retry_after(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    notion.fail_next(429, "rate_limited", retry_after=1)
    started = time.monotonic()
    client.data_sources.query(data_source_id=ds_id)
    assert time.monotonic() - started >= 1.0
    assert len(notion.requests_to("/query")) == 2

    # notion-client 3.1 retries at most twice (3 attempts), then raises
    notion.fail_next(429, "rate_limited", retry_after=0, times=3)
    with pytest.raises(APIResponseError) as info:
        client.data_sources.query(data_source_id=ds_id)
    assert info.value.code == "rate_limited"
    assert len(notion.requests_to("/query")) == 5


def test_notion_auth_version_and_not_found(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    missing = "0" * 32
    with pytest.raises(APIResponseError) as info:
        client.pages.retrieve(page_id=missing)
    assert (info.value.status, info.value.code) == (404, "object_not_found")

    raw = httpx.post(
        f"{notion.base_url}/v1/data_sources/{ds_id}/query",
        headers={"Authorization": f"Bearer {notion.token}"},
        json={},
    )
    assert (raw.status_code, raw.json()["code"]) == (400, "missing_version")

    old_style = httpx.post(
        f"{notion.base_url}/v1/databases/{ds_id}/query",
        headers={"Authorization": f"Bearer {notion.token}", "Notion-Version": "2025-09-03"},
    )
    assert old_style.json()["code"] == "invalid_request_url"

    wrong = notion_client.Client(auth="other-token", base_url=notion.base_url)
    with pytest.raises(APIResponseError) as info:
        wrong.data_sources.retrieve(data_source_id=ds_id)
    assert info.value.code == "unauthorized"

    notion.revoke()
    with pytest.raises(APIResponseError) as info:
        client.data_sources.retrieve(data_source_id=ds_id)
    assert (info.value.status, info.value.code) == (401, "unauthorized")


# -- Notion file uploads --------------------------------------------------------------------

# A JPEG-like payload that would trip a careless multipart parser: CRLFs, blank lines,
# boundary-like lines and a close-delimiter-like ending inside the file itself.
JPEG_LIKE = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\r\n\r\n--"
    + b"0" * 32
    + b'\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
    + bytes(range(256))
    + b"\r\n--\r\n\xff\xd9"
)


def _title(text: str) -> dict:
    return {"Name": {"title": [{"text": {"content": text}}]}}


def _uploaded(client: notion_client.Client, data: bytes = JPEG_LIKE, name: str = "p.jpg") -> str:
    upload = client.file_uploads.create(
        mode="single_part", filename=name, content_type="image/jpeg"
    )
    client.file_uploads.send(file_upload_id=upload["id"], file=(name, data, "image/jpeg"))
    return str(upload["id"])


def _image(upload_id: str, caption: str) -> dict:
    return {
        "object": "block",
        "type": "image",
        "image": {
            "type": "file_upload",
            "file_upload": {"id": upload_id},
            "caption": [{"type": "text", "text": {"content": caption}}],
        },
    }


def test_notion_file_upload_create_and_send_answer_notions_shapes(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    created = client.file_uploads.create(
        mode="single_part", filename="cover.jpg", content_type="image/jpeg"
    )
    assert created["object"] == "file_upload"
    assert (created["status"], created["filename"], created["content_type"]) == (
        "pending",
        "cover.jpg",
        "image/jpeg",
    )
    assert created["content_length"] is None
    assert created["upload_url"] == f"{notion.base_url}/v1/file_uploads/{created['id']}/send"
    made = datetime.fromisoformat(created["created_time"])
    assert datetime.fromisoformat(created["expiry_time"]) - made == timedelta(hours=1)

    sent = client.file_uploads.send(
        file_upload_id=created["id"], file=("cover.jpg", JPEG_LIKE, "image/jpeg")
    )
    assert (sent["status"], sent["content_length"]) == ("uploaded", len(JPEG_LIKE))
    assert "upload_url" not in sent and sent["expiry_time"] == created["expiry_time"]
    assert notion.uploaded_bytes(created["id"]) == JPEG_LIKE  # CRLFs and boundary-like bytes
    send = notion.requests_to("/send")[0]
    assert send.header("content-type").startswith("multipart/form-data; boundary=")
    assert client.file_uploads.retrieve(file_upload_id=created["id"])["status"] == "uploaded"


def test_notion_file_upload_name_and_type_come_from_the_part_when_create_gave_none(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    created = client.file_uploads.create()  # mode defaults to single_part
    assert created["filename"] is None and created["content_type"] is None
    sent = client.file_uploads.send(
        file_upload_id=created["id"], file=("still.png", b"\x89PNG\r\n\x1a\n", "image/png")
    )
    assert (sent["filename"], sent["content_type"]) == ("still.png", "image/png")


def test_notion_multipart_body_from_another_client_is_read_exactly(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    upload_id = client.file_uploads.create(content_type="image/jpeg")["id"]
    # A preamble, the boundary text inside the file (never after a CRLF: that would be a
    # delimiter) and an epilogue.
    data = b"\xff\xd8--XyZ\r\n\n--XyZ--\r\n \r\n\xff\xd9"
    body = (
        b"preamble to ignore\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--XyZ--\r\nepilogue"
    )
    answer = httpx.post(
        f"{notion.base_url}/v1/file_uploads/{upload_id}/send",
        headers={
            "Authorization": f"Bearer {notion.token}",
            "Notion-Version": "2025-09-03",
            "Content-Type": 'multipart/form-data; boundary="XyZ"',
        },
        content=body,
    )
    assert answer.status_code == 200, answer.text
    assert notion.uploaded_bytes(upload_id) == data

    other = client.file_uploads.create(content_type="image/jpeg")["id"]
    not_multipart = httpx.post(
        f"{notion.base_url}/v1/file_uploads/{other}/send",
        headers={"Authorization": f"Bearer {notion.token}", "Notion-Version": "2025-09-03"},
        json={"file": "x"},
    )
    assert (not_multipart.status_code, not_multipart.json()["code"]) == (400, "validation_error")
    assert "multipart/form-data" in not_multipart.json()["message"]


def test_notion_upload_attached_as_cover_and_nested_image_reads_back_as_a_hosted_file(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    upload_id = _uploaded(client)
    page = client.pages.create(
        parent={"data_source_id": ds_id},
        properties=_title("Pasta"),
        cover={"type": "file_upload", "file_upload": {"id": upload_id}},
        children=[
            _image(upload_id, "First frame"),
            {
                "object": "block",
                "type": "toggle",
                "toggle": {
                    "rich_text": [{"text": {"content": "Frames"}}],
                    "children": [_image(upload_id, "Nested frame")],
                },
            },
        ],
    )
    cover = client.pages.retrieve(page_id=page["id"])["cover"]
    assert cover["type"] == "file" and cover["file"]["expiry_time"]
    assert cover["file"]["url"] == f"{notion.base_url}/files/{upload_id}/p.jpg"
    served = httpx.get(cover["file"]["url"])
    assert (served.content, served.headers["content-type"]) == (JPEG_LIKE, "image/jpeg")

    top = client.blocks.children.list(block_id=page["id"])["results"]
    assert [b["type"] for b in top] == ["image", "toggle"]
    assert top[0]["image"]["type"] == "file"
    assert top[0]["image"]["file"]["url"] == cover["file"]["url"]
    assert top[0]["image"]["caption"][0]["plain_text"] == "First frame"
    nested = client.blocks.children.list(block_id=top[1]["id"])["results"]
    assert nested[0]["image"]["caption"][0]["plain_text"] == "Nested frame"

    # Attached: it no longer expires, and it can be attached again.
    assert client.file_uploads.retrieve(file_upload_id=upload_id)["expiry_time"] is None
    client.blocks.children.append(block_id=page["id"], children=[_image(upload_id, "Again")])

    described = notion.cover_of(page["id"])
    assert described is not None
    assert (described["type"], described["id"], described["bytes"]) == (
        "file_upload",
        upload_id,
        JPEG_LIKE,
    )
    images = notion.images_of(page["id"])
    assert [(i["id"], i["caption"]) for i in images] == [
        (upload_id, "First frame"),
        (upload_id, "Nested frame"),
        (upload_id, "Again"),
    ]


def test_notion_page_update_sets_an_uploaded_or_external_cover(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    page_id = notion.add_page(ds_id, {"Name": "Pasta"})
    assert notion.cover_of(page_id) is None
    upload_id = _uploaded(client, b"\xff\xd8small\xff\xd9")
    client.pages.update(
        page_id=page_id,
        cover={"type": "file_upload", "file_upload": {"id": upload_id}},
        icon={"type": "emoji", "emoji": "🍝"},
    )
    cover = notion.cover_of(page_id)
    assert cover is not None and cover["bytes"] == b"\xff\xd8small\xff\xd9"
    assert notion.page(page_id)["icon"] == {"type": "emoji", "emoji": "🍝"}

    url = "https://example.com/cover.jpg"
    client.pages.update(page_id=page_id, cover={"type": "external", "external": {"url": url}})
    assert notion.cover_of(page_id) == {"type": "external", "url": url}
    with pytest.raises(APIResponseError, match="cannot be written"):  # Notion-hosted: read-only
        client.pages.update(page_id=page_id, cover={"type": "file", "file": {"url": url}})
    with pytest.raises(APIResponseError, match="2000"):
        client.pages.update(
            page_id=page_id, cover={"external": {"url": "https://e.com/" + "x" * 2000}}
        )


def _attach_refusal(notion: FakeNotion, client: notion_client.Client, case: str) -> str:
    """An upload id that pages.create must refuse, made the way ``case`` says."""
    if case == "unknown":
        return "0" * 32
    if case == "pending":
        return client.file_uploads.create(content_type="image/jpeg")["id"]
    if case == "expired":
        upload_id = _uploaded(client)
        notion.expire_upload(upload_id)
        return upload_id
    alice = notion.add_workspace("Alice's notes")
    return notion.add_upload(JPEG_LIKE, workspace=alice)


@pytest.mark.parametrize(
    ("case", "message_part"),
    [
        ("unknown", "Could not find file upload"),
        ("pending", "status `pending`"),
        ("expired", "status `expired`"),
        ("other workspace", "Could not find file upload"),
    ],
)
@pytest.mark.parametrize("where", ["cover", "nested image"])
def test_notion_refuses_to_attach_an_upload_that_is_not_uploaded_here(
    notion: FakeNotion,
    client: notion_client.Client,
    ds_id: str,
    case: str,
    message_part: str,
    where: str,
) -> None:
    upload_id = _attach_refusal(notion, client, case)
    file_object = {"type": "file_upload", "file_upload": {"id": upload_id}}
    placed: dict = {"cover": file_object}
    if where == "nested image":
        toggle = {"rich_text": [], "children": [_image(upload_id, "frame")]}
        placed = {"children": [{"type": "toggle", "toggle": toggle}]}
    with pytest.raises(APIResponseError) as info:
        client.pages.create(parent={"data_source_id": ds_id}, properties=_title("x"), **placed)
    assert (info.value.status, info.value.code) == (400, "validation_error")
    assert message_part in str(info.value)
    assert notion.pages_in(ds_id) == []


def test_notion_upload_counts_as_attached_only_when_the_request_succeeds(
    notion: FakeNotion, client: notion_client.Client, ds_id: str
) -> None:
    upload_id = _uploaded(client)
    too_long = {"rich_text": [{"text": {"content": "x" * 2001}}]}
    with pytest.raises(APIResponseError, match="2000"):  # refused after the image was read
        client.pages.create(
            parent={"data_source_id": ds_id},
            properties=_title("x"),
            children=[_image(upload_id, "frame"), {"type": "paragraph", "paragraph": too_long}],
        )
    assert notion.pages_in(ds_id) == []
    assert client.file_uploads.retrieve(file_upload_id=upload_id)["expiry_time"] is not None
    notion.expire_upload(upload_id)  # so its hour can still run out
    assert client.file_uploads.retrieve(file_upload_id=upload_id)["status"] == "expired"


def test_notion_send_refusals(notion: FakeNotion, client: notion_client.Client) -> None:
    def send(upload_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        client.file_uploads.send(file_upload_id=upload_id, file=("p.jpg", data, content_type))

    def refused(upload_id: str, data: bytes, content_type: str = "image/jpeg") -> str:
        with pytest.raises(APIResponseError) as info:
            send(upload_id, data, content_type)
        assert (info.value.status, info.value.code) == (400, "validation_error")
        return str(info.value)

    notion.max_file_bytes = 1000
    upload_id = client.file_uploads.create(content_type="image/jpeg")["id"]
    assert "1000 bytes" in refused(upload_id, b"x" * 1001)
    assert "does not match" in refused(upload_id, b"x", "image/png")
    send(upload_id, b"x" * 1000)  # at the limit: accepted, and the refusals kept it pending
    assert "already sent" in refused(upload_id, b"y")
    assert notion.uploaded_bytes(upload_id) == b"x" * 1000

    late = client.file_uploads.create(content_type="image/jpeg")["id"]
    notion.expire_upload(late)
    assert "status `expired`" in refused(late, b"x")

    with pytest.raises(APIResponseError) as info:
        send("0" * 32, b"x")
    assert (info.value.status, info.value.code) == (404, "object_not_found")
    with pytest.raises(APIResponseError, match="multi_part"):
        client.file_uploads.create(mode="multi_part", filename="big.mp4", number_of_parts=2)


def test_notion_default_file_limit_is_a_free_workspaces_5_mib(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    assert notion.max_file_bytes == 5 * 1024 * 1024
    upload_id = client.file_uploads.create(content_type="image/jpeg")["id"]
    with pytest.raises(APIResponseError, match="5242880 bytes"):
        client.file_uploads.send(
            file_upload_id=upload_id, file=("p.jpg", b"\0" * (5 * 1024 * 1024 + 1), "image/jpeg")
        )


def test_notion_file_uploads_list_filters_pages_and_keeps_workspaces_apart(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    sent = [_uploaded(client, name=f"{i}.jpg") for i in range(3)]
    pending = client.file_uploads.create()["id"]
    alices = notion.add_upload(JPEG_LIKE, workspace=notion.add_workspace("Alice's notes"))

    first = client.file_uploads.list(status="uploaded", page_size=2)
    assert [u["id"] for u in first["results"]] == sent[:2] and first["has_more"]
    rest = client.file_uploads.list(status="uploaded", start_cursor=first["next_cursor"])
    assert [u["id"] for u in rest["results"]] == sent[2:]
    assert [u["id"] for u in client.file_uploads.list(status="pending")["results"]] == [pending]
    assert alices not in {u["id"] for u in client.file_uploads.list()["results"]}
    with pytest.raises(APIResponseError) as info:
        client.file_uploads.retrieve(file_upload_id=alices)
    assert info.value.code == "object_not_found"


def test_notion_file_upload_send_is_retried_after_an_injected_429(
    notion: FakeNotion, client: notion_client.Client
) -> None:
    upload_id = client.file_uploads.create(content_type="image/jpeg")["id"]
    notion.fail_next(429, "rate_limited", retry_after=0)
    sent = client.file_uploads.send(
        file_upload_id=upload_id, file=("p.jpg", JPEG_LIKE, "image/jpeg")
    )
    assert sent["status"] == "uploaded"
    assert len(notion.requests_to("/send")) == 2  # the multipart body was sent again whole
    assert notion.uploaded_bytes(upload_id) == JPEG_LIKE


# == Gemini ================================================================================

RECIPE_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "servings": {"type": "integer"}},
    "required": ["title"],
}


def _gemini(fake: FakeGemini, **options: object) -> genai.Client:
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=fake.base_url, **options)
    )


def test_gemini_structured_output_round_trip() -> None:
    with FakeGemini(responder=lambda req: {"title": "Pasta", "servings": 2}) as fake:
        client = _gemini(fake)  # keep a reference: a collected Client closes its transport
        response = client.models.generate_content(
            model="gemini-3.8-flash",
            contents="hi",
            config=types.GenerateContentConfig(
                response_mime_type="application/json", response_json_schema=RECIPE_SCHEMA
            ),
        )
        assert response.parsed == {"title": "Pasta", "servings": 2}
        assert response.text == '{"title": "Pasta", "servings": 2}'
        assert response.usage_metadata.total_token_count > 0

        (request,) = fake.requests
        assert request.path == "/v1/models/gemini-3.8-flash:generateContent"
        assert request.headers["x-goog-api-key"] == "k"
        config = request.json["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == RECIPE_SCHEMA
        assert request.json["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_gemini_errors_and_v1beta() -> None:
    with FakeGemini(responder=lambda req: "plain text") as fake:
        fake.fail_next(429, retry_after=7)
        client = _gemini(fake)
        with pytest.raises(genai_errors.ClientError) as info:
            client.models.generate_content(model="gemini-3.8-flash", contents="hi")
        assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"

        fake.fail_next(503)
        retrying = _gemini(
            fake,
            api_version="v1beta",
            retry_options=types.HttpRetryOptions(attempts=2, initial_delay=0, jitter=0),
        )
        response = retrying.models.generate_content(model="gemini-3.8-flash", contents="hi")
        assert response.text == "plain text"
        assert fake.requests[-1].path == "/v1beta/models/gemini-3.8-flash:generateContent"


# == OpenAI ================================================================================


def test_openai_transcription_and_chat() -> None:
    def transcribe(filename: str, audio: bytes, form: dict[str, str]) -> str:
        return f"{filename}:{len(audio)}:{form['model']}"

    with FakeOpenAI(
        transcriber=transcribe, chat_responder=lambda req: {"echo": req["messages"][-1]["content"]}
    ) as fake:
        client = openai.OpenAI(api_key="k", base_url=fake.base_url + "/v1", max_retries=0)
        audio = bytes(range(256)) * 4 + b"\r\n--tail"
        result = client.audio.transcriptions.create(
            model="gpt-transcribe", file=("clip.wav", audio, "audio/wav")
        )
        assert result.text == f"clip.wav:{len(audio)}:gpt-transcribe"
        assert fake.uploads[-1]["file"].data == audio

        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=("clip.mp3", b"ID3", "audio/mpeg"),
            response_format="verbose_json",
        )
        assert verbose.language == "english" and verbose.segments[0].text == verbose.text

        chat = client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert chat.choices[0].message.content == '{"echo": "hi"}'
        assert chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens

        with pytest.raises(openai.BadRequestError):
            client.audio.transcriptions.create(model="m", file=("notes.txt", b"x", "text/plain"))

        fake.fail_next(429, retry_after=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(
                model="gpt-4.1-mini", messages=[{"role": "user", "content": "x"}]
            )


# == Vision ================================================================================


def _vision(fake: FakeVision) -> vision.ImageAnnotatorClient:
    return vision.ImageAnnotatorClient(
        transport="rest",
        client_options={"api_endpoint": fake.base_url},
        credentials=AnonymousCredentials(),
    )


def _text_request(content: bytes) -> vision.AnnotateImageRequest:
    return vision.AnnotateImageRequest(
        image=vision.Image(content=content),
        features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
    )


def test_vision_batch_of_two_images() -> None:
    texts = {b"frame-1": "2 cups flour", b"frame-2": ""}
    with FakeVision(responder=texts.__getitem__) as fake:
        fake.fail_next(503)  # the client retries UNAVAILABLE by itself
        response = _vision(fake).batch_annotate_images(
            requests=[_text_request(b"frame-1"), _text_request(b"frame-2")]
        )
        first, second = response.responses
        assert first.full_text_annotation.text == "2 cups flour"
        assert [a.description for a in first.text_annotations] == [
            "2 cups flour",
            "2",
            "cups",
            "flour",
        ]
        assert second.full_text_annotation.text == "" and not second.text_annotations
        assert fake.images == [b"frame-1", b"frame-2"]
        sent = fake.requests[-1].json["requests"][0]
        assert sent == {
            "image": {"content": base64.b64encode(b"frame-1").decode()},
            "features": [{"type": 5}],
        }

        with pytest.raises(gexc.BadRequest):  # api_core maps by HTTP status
            _vision(fake).batch_annotate_images(requests=[_text_request(b"x") for _ in range(17)])
