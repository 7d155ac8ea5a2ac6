"""Shared material for the summary tests: a post's content, schemas, settings from variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svp.config import Settings, load_settings
from svp.summary.content import Content
from svp.summary.targets import Schema, normalize_schema

ROOT = Path(__file__).resolve().parents[1]


def seed_schema(tag: str) -> Schema:
    return normalize_schema(json.loads((ROOT / f"shared/svp/schemas/{tag}.json").read_text()))


def settings_with(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    """Settings from the test environment (the `env` fixture) plus these variables."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(dotenv=None)


def _options(*names: str) -> dict:
    return {"options": [{"name": name, "color": "default"} for name in names]}


# Every Notion property type, as a data source returns them (trimmed to what matters).
EVERY_TYPE = normalize_schema(
    {
        "Name": {"type": "title", "description": "The dish, as the video names it"},
        "Notes": {"type": "rich_text"},
        "Servings": {"type": "number", "number": {"format": "number"}},
        "Vegetarian": {"type": "checkbox"},
        "Posted": {"type": "date"},
        "Website": {"type": "url"},
        "Contact": {"type": "email"},
        "Phone": {"type": "phone_number"},
        "Course": {"type": "select", "select": _options("Main", "Dessert")},
        "Stage": {"type": "status", "status": _options("To try", "Cooked")},
        "Tags": {"type": "multi_select", "multi_select": _options("Italian")},
        "Empty status": {"type": "status", "status": _options()},
        "Photos": {"type": "files"},
        "Related": {"type": "relation"},
        "Owner": {"type": "people"},
        "Score": {"type": "formula"},
        "Total": {"type": "rollup"},
        "Created": {"type": "created_time"},
        "Created by": {"type": "created_by"},
        "Edited": {"type": "last_edited_time"},
        "Edited by": {"type": "last_edited_by"},
        "ID": {"type": "unique_id"},
        "Button": {"type": "button"},
        "Verified": {"type": "verification"},
        "Place": {"type": "place"},
    }
)


def pasta() -> Content:
    """What the media stages gather from the pasta clip, with a caption as TikTok gives it."""
    return Content(
        url="https://www.tiktok.com/@chef/video/7301",
        tag="cooking",
        title="Tomato pasta",
        caption="Tomato pasta in 15 minutes 🍅\nFull recipe: https://chef.example/pasta\n"
        "#pasta #dinner",
        uploader="chef",
        transcript="Today we make tomato pasta. Boil the spaghetti for 10 minutes, then add "
        "the garlic and basil.",
        language="en",
        transcript_engine="faster-whisper",
        segments=[
            {"start": 0.0, "end": 2.6, "text": "Today we make tomato pasta."},
            {
                "start": 2.6,
                "end": 9.4,
                "text": "Boil the spaghetti for 10 minutes, then add the garlic and basil.",
            },
        ],
        screen_lines=[
            {"text": "Tomato Pasta", "seconds": 0.0},
            {"text": "Spaghetti", "seconds": 4.0},
            {"text": "Garlic and basil", "seconds": 8.0},
        ],
    )


def three_cafes() -> Content:
    """A video presenting three places."""
    return Content(
        url="https://www.instagram.com/reel/Cafes3",
        tag="places",
        caption="3 cafés in Lisbon you can't miss ☕\n#lisbon #coffee",
        uploader="wanderer",
        transcript="First, Café Alfama on Rua das Flores 12, open from 8 to 18. "
        "Second, Fábrica Coffee at Rua das Portas 7, great espresso. "
        "Third, a pop-up called Grão in LX Factory, weekends only.",
        language="en",
        transcript_engine="faster-whisper",
        segments=[
            {
                "start": 0.0,
                "end": 4.0,
                "text": "First, Café Alfama on Rua das Flores 12, open from 8 to 18.",
            },
            {
                "start": 4.0,
                "end": 8.0,
                "text": "Second, Fábrica Coffee at Rua das Portas 7, great espresso.",
            },
            {
                "start": 8.0,
                "end": 12.0,
                "text": "Third, a pop-up called Grão in LX Factory, weekends only.",
            },
        ],
        screen_lines=[
            {"text": "Café Alfama", "seconds": 1.0},
            {"text": "Fábrica Coffee", "seconds": 5.0},
            {"text": "Grão (pop-up)", "seconds": 9.0},
        ],
    )


THREE_PLACES = {
    "_summary": "Three cafés in Lisbon.",
    "items": [
        {
            "name": "Café Alfama",
            "address": "Rua das Flores 12",
            "hours": "8:00-18:00",
            "categories": ["cafe"],
            "is_popup": False,
        },
        {
            "name": "Fábrica Coffee",
            "address": "Rua das Portas 7",
            "recommendation": "great espresso",
            "categories": ["cafe", "espresso"],
        },
        {"name": "Grão", "address": "LX Factory", "hours": "weekends only", "is_popup": "yes"},
    ],
}
