"""Notion requests per processed link, and requests the poller needs to find 1,000 links.

Runs the real runner, poller, reconciler and writer against the fake Notion server
(tests/fakes) with the media stages stubbed (they make no Notion calls): once with instant
stages, once with media stages of 3 s each (the statuses a person sees then), once with a
picture on the page (the File Upload API: create, then send). Baseline,
measured in the same run: the same work with the schema cache disabled. Targets: at most 4
requests per link with a warm cache, at most 12 to find 1,000 pending links.
Usage: python bench/notion_calls.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.accounts import notion_for  # noqa: E402
from svp.config import LOCAL_USER, load_settings  # noqa: E402
from svp.notion import gateway  # noqa: E402
from svp.notion.registry import Registry  # noqa: E402
from svp.runtime.context import Runtime  # noqa: E402
from svp.runtime.dispatch import run_until_settled  # noqa: E402
from svp.stages import poller  # noqa: E402
from svp.stages.status import link_status  # noqa: E402
from svp.wiring import build_runtime  # noqa: E402
from svp.wiring import dispatcher as local_dispatcher  # noqa: E402
from tests.fakes.notion import FakeNotion  # noqa: E402

PICTURE = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b"
    "080001000101011100ffc4001400010000000000000000000000000000000affc40014100100000000000000000000"
    "000000000000ffda0008010100003f00d2cf20ffd9"
)  # a 1x1 JPEG: the upload's size does not change the requests

LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending"]},
    "error": "rich_text",
    "result": "url",
    "updated_time": "date",
}


def stub(stage: str, seconds: float = 0.0, pictures: int = 0):
    def work(ctx):
        time.sleep(seconds if stage in ("downloader", "transcriber", "ocr") else 0.0)
        if stage == "ocr":
            saved = [ctx.save(f"picture-{i}.jpg", PICTURE, "image/jpeg") for i in range(pictures)]
            return {"pictures": [{"uri": uri, "source": "frame", "caption": ""} for uri in saved]}
        if stage != "summarizer":
            return {}
        summary = {
            "items": [{"name": f"Dish {ctx.job_id[:6]}", "steps": "Boil."}],
            "content": {"caption": "", "transcript": "", "screen_lines": []},
        }
        return {"artifacts": {"summary": ctx.save("summary.json", json.dumps(summary).encode())}}

    return work


def runtime_for(fake: FakeNotion, data: str, status_updates: str) -> Runtime:
    os.environ.update(
        NOTION_TOKEN=fake.token,
        NOTION_BASE_URL=fake.base_url,
        SVP_DATA_DIR=data,
        SVP_STATUS_UPDATES=status_updates,
        SVP_NOTION_RPS="1000",
    )
    return build_runtime(load_settings(dotenv=None))


def per_link(
    status_updates: str, links: int = 6, seconds: float = 0.0, pictures: int = 0
) -> tuple[float, Counter]:
    with FakeNotion() as fake, tempfile.TemporaryDirectory() as data:
        _, link_source = fake.add_database("Links", LINK_SCHEMA)
        _, cooking = fake.add_database(
            "Cooking", {"name": "title", "video_link": "url", "steps": "rich_text"}
        )
        runtime = runtime_for(fake, data, status_updates)
        registry = Registry(runtime)
        registry.save(
            {"kind": "link", "data_source_id": link_source, "database_id": "", "title": "Links"}
        )
        registry.save(
            {
                "kind": "content",
                "tag": "cooking",
                "data_source_id": cooking,
                "database_id": "",
                "title": "Cooking",
            }
        )
        works = {
            s: stub(s, seconds, pictures)
            for s in ("downloader", "transcriber", "ocr", "summarizer")
        }
        status = link_status(runtime)

        def process(count: int) -> None:
            for i in range(count):
                fake.add_page(
                    link_source,
                    {
                        "Name": str(i),
                        "tag": "cooking",
                        "status": "pending",
                        "url": f"https://www.tiktok.com/@a/video/{time.time_ns()}",
                    },
                )
            poller.poll(runtime, status)
            dispatcher = local_dispatcher(runtime, works, concurrency=links)
            run_until_settled(runtime, dispatcher)
            dispatcher.close()

        process(1)  # warms the schema caches
        fake.clear_log()
        process(links)
        made = Counter(f"{r.method} {r.path.split('/')[2]}" for r in fake.requests)
        # The poll's one query is shared by every link it finds.
        return sum(made.values()) / links, made


def finding(pending: int = 1000) -> tuple[int, Counter]:
    with FakeNotion() as fake, tempfile.TemporaryDirectory() as data:
        _, link_source = fake.add_database("Links", LINK_SCHEMA)
        for i in range(pending):
            fake.add_page(
                link_source,
                {
                    "Name": str(i),
                    "tag": "cooking",
                    "status": "pending",
                    "url": f"https://youtu.be/{i}",
                },
            )
        runtime = runtime_for(fake, data, "all")
        notion = notion_for(runtime, LOCAL_USER)
        assert notion is not None
        source = notion.data_source_id(link_source)
        schema = notion.schema(source)
        found = sum(1 for _ in notion.query(source, poller.pending_filter(schema)))
        assert found == pending, found
        made = Counter(f"{r.method} {r.path.split('/')[2]}" for r in fake.requests)
        return sum(made.values()), made


def main() -> None:
    for mode, seconds, pictures in (
        ("all", 0.0, 0),
        ("all", 3.0, 0),
        ("minimal", 0.0, 0),
        ("all", 0.0, 1),
    ):
        warm, made = per_link(mode, seconds=seconds, pictures=pictures)
        gateway.SCHEMA_TTL_SECONDS = 0  # baseline: no schema cache
        cold, _ = per_link(mode, seconds=seconds, pictures=pictures)
        gateway.SCHEMA_TTL_SECONDS = 3600
        print(
            f"SVP_STATUS_UPDATES={mode}, media stages of {seconds:g} s, {pictures} picture(s): "
            f"{warm:.1f} Notion requests per link, warm cache (baseline without schema cache: "
            f"{cold:.1f}, ratio {warm / cold:.2f}); by endpoint over 6 links: {dict(made)}"
        )
    total, made = finding()
    print(f"poller: {total} requests to find 1,000 pending links (target <= 12): {dict(made)}")


if __name__ == "__main__":
    main()
