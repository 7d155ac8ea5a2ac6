"""The Notion fake against Notion's documentation and recorded responses, through the real
notion-client SDK: each documented rule the product depends on, and the shapes of responses
recorded at Notion-Version 2025-09-03 (tests/data/notion/README.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from notion_client import Client
from notion_client.errors import APIResponseError, HTTPResponseError

from tests.fakes import _notion_webhooks as webhooks
from tests.fakes.notion import FakeNotion

RECORDED = Path(__file__).parent / "data" / "notion"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


@pytest.fixture
def client(fake_notion: FakeNotion) -> Client:
    return Client(
        auth=fake_notion.token,
        base_url=fake_notion.base_url,
        notion_version="2025-09-03",
        retry=False,
    )


def refused(call, code: str = "validation_error") -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        call()
    assert str(getattr(caught.value.code, "value", caught.value.code)) == code
    return caught.value


def text(content: str) -> list[dict]:
    return [{"type": "text", "text": {"content": content}}]


# -- shapes, against recorded responses -------------------------------------------------------
def test_pages_data_sources_queries_uploads_and_users_have_the_recorded_keys(fake_notion, client):
    _, source = fake_notion.add_database("Recorded", {"Name": "title"})
    page = client.pages.create(
        parent={"data_source_id": source}, properties={"Name": {"title": text("x")}}
    )
    answers = {
        "page.json": page,
        "data_source.json": client.data_sources.retrieve(data_source_id=source),
        "query.json": client.data_sources.query(
            data_source_id=source, filter={"property": "Name", "title": {"equals": "none"}}
        ),
        "file_upload.json": client.file_uploads.create(
            mode="single_part", filename="a.txt", content_type="text/plain"
        ),
        "users_me.json": client.users.me(),
    }
    for name, answer in answers.items():
        missing = set(recorded(name)) - set(answer)
        assert not missing, f"{name}: the fake lacks {sorted(missing)}"
    schema = answers["data_source.json"]["properties"]["Name"]
    assert set(recorded("data_source.json")["properties"]["Name"]) <= set(schema)
    assert set(recorded("users_me.json")["bot"]) <= set(answers["users_me.json"]["bot"])


# -- each documented rule ----------------------------------------------------------------------
def test_text_content_is_limited_to_2000_utf16_units(fake_notion, client):
    """https://developers.notion.com/reference/request-limits#limits-for-property-values"""
    _, source = fake_notion.add_database("Texts", {"Name": "title"})
    fits = "😀" * 1000  # 1000 code points, 2000 UTF-16 units
    client.pages.create(
        parent={"data_source_id": source}, properties={"Name": {"title": text(fits)}}
    )
    too_long = "😀" * 1001  # 1001 code points: under 2000 as Python counts, 2002 units
    refused(
        lambda: client.pages.create(
            parent={"data_source_id": source}, properties={"Name": {"title": text(too_long)}}
        )
    )


def _paragraph(children: list | None = None) -> dict:
    block = {"type": "paragraph", "paragraph": {"rich_text": text("p")}}
    if children:
        block["paragraph"]["children"] = children
    return block


def test_blocks_nest_two_levels_and_number_at_most_1000_per_request(fake_notion, client):
    """https://developers.notion.com/reference/patch-block-children (two levels of nesting
    in one request); https://developers.notion.com/reference/request-limits (1000 blocks)."""
    _, source = fake_notion.add_database("Blocks", {"Name": "title"})
    parent = {"data_source_id": source}
    name = {"Name": {"title": text("b")}}
    client.pages.create(parent=parent, properties=name, children=[_paragraph([_paragraph()])])
    three = [_paragraph([_paragraph([_paragraph()])])]
    refused(lambda: client.pages.create(parent=parent, properties=name, children=three))
    many = [_paragraph([_paragraph() for _ in range(10)]) for _ in range(100)]  # 1100
    refused(lambda: client.pages.create(parent=parent, properties=name, children=many))


def test_an_uploads_name_and_content_type_must_agree(client):
    """https://developers.notion.com/reference/create-a-file-upload"""
    refused(
        lambda: client.file_uploads.create(
            mode="single_part", filename="a.jpg", content_type="image/png"
        )
    )
    created = client.file_uploads.create(
        mode="single_part", filename="a.jpg", content_type="image/jpeg"
    )
    assert created["status"] == "pending"


def test_queries_without_sorts_are_not_in_creation_order(fake_notion, client):
    """https://developers.notion.com/reference/query-a-data-source: order only with sorts."""
    _, source = fake_notion.add_database("Order", {"Name": "title"})
    made = [fake_notion.add_page(source, {"Name": f"{i:02}"}) for i in range(20)]
    unsorted = [p["id"] for p in client.data_sources.query(data_source_id=source)["results"]]
    assert sorted(unsorted) == sorted(made) and unsorted != made
    by_name = client.data_sources.query(
        data_source_id=source, sorts=[{"property": "Name", "direction": "ascending"}]
    )
    assert [p["id"] for p in by_name["results"]] == made


def test_people_and_created_by_values_are_full_user_objects(fake_notion, client):
    """https://developers.notion.com/reference/page-property-values#people"""
    owner = fake_notion.add_workspace("Team", owner_name="Ana")
    _, source = fake_notion.add_database(
        "People", {"Name": "title", "Who": "people", "By": "created_by"}
    )
    page = client.pages.create(
        parent={"data_source_id": source},
        properties={"Name": {"title": text("p")}, "Who": {"people": [{"id": owner.owner_id}]}},
    )
    (who,) = page["properties"]["Who"]["people"]
    assert who["name"] == "Ana" and who["type"] == "person" and "email" in who["person"]
    by = page["properties"]["By"]["created_by"]
    assert {"object", "id", "name", "avatar_url", "type"} <= set(by)


def test_every_schema_property_has_a_description(fake_notion, client):
    """https://developers.notion.com/reference/property-object"""
    _, source = fake_notion.add_database("Described", {"Name": "title", "Notes": "rich_text"})
    for prop in client.data_sources.retrieve(data_source_id=source)["properties"].values():
        assert "description" in prop


def test_computed_values_have_notions_shapes(fake_notion, client):
    """https://developers.notion.com/reference/page-property-values (formula, rollup,
    unique_id, verification)."""
    _, source = fake_notion.add_database(
        "Computed",
        {
            "Name": "title",
            "Score": {"type": "formula", "formula": {"expression": "1.5"}},
            "Count": {"type": "rollup", "rollup": {"function": "count"}},
            "Key": {"type": "unique_id", "unique_id": {"prefix": "REC"}},
            "Checked": "verification",
        },
    )
    first = fake_notion.add_page(source, {"Name": "a"})
    second = client.pages.retrieve(page_id=fake_notion.add_page(source, {"Name": "b"}))
    props = second["properties"]
    assert props["Score"]["formula"] == {"type": "number", "number": 1.5}
    assert props["Count"]["rollup"] == {"type": "number", "number": 0, "function": "count"}
    assert props["Key"]["unique_id"] == {"prefix": "REC", "number": 2}
    assert fake_notion.page(first)["properties"]["Key"]["unique_id"]["number"] == 1
    assert props["Checked"]["verification"]["state"] == "unverified"


def test_a_wiki_query_returns_data_sources_among_its_pages(fake_notion, client):
    _, source = fake_notion.add_database("Wiki", {"Name": "title"})
    fake_notion.add_page(source, {"Name": "row"})
    fake_notion.add_wiki_entry(source, "Nested")
    kinds = sorted(r["object"] for r in client.data_sources.query(data_source_id=source)["results"])
    assert kinds == ["data_source", "page"]


def test_pages_carry_is_archived_with_in_trash(fake_notion, client):
    _, source = fake_notion.add_database("Trash", {"Name": "title"})
    page = fake_notion.add_page(source, {"Name": "t"})
    trashed = client.pages.update(page_id=page, in_trash=True)
    assert trashed["in_trash"] is trashed["is_archived"] is trashed["archived"] is True


def test_conflicts_and_token_endpoint_failures_can_be_injected(fake_notion, client):
    """https://developers.notion.com/reference/status-codes (409 conflict_error)."""
    fake_notion.conflict_next()
    refused(lambda: client.users.me(), code="conflict_error")
    fake_notion.fail_token_endpoint(503)
    with pytest.raises(HTTPResponseError) as caught:
        Client(base_url=fake_notion.base_url, retry=False).oauth.token(
            client_id=fake_notion.oauth_client_id,
            client_secret=fake_notion.oauth_client_secret,
            grant_type="refresh_token",
            refresh_token="nrt_x",
        )
    assert caught.value.status == 503


def test_the_handshake_is_signed_like_every_event():
    token, headers, body = webhooks.handshake()
    expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Notion-Signature"] == f"sha256={expected}"
    assert json.loads(body) == {"verification_token": token}
