"""Checking answers, evidence, the prompt's budget, the extractive fallback, cost: no network."""

from __future__ import annotations

import pytest

from svp.notion.properties import encode_properties
from svp.summary import cost, extractive
from svp.summary.content import Content
from svp.summary.evidence import NOT_FOUND, evidence_for, locate
from svp.summary.prompt import build_prompt, trim
from svp.summary.validate import AnswerError, check_answer, coerce, parse_json
from tests.summary_helpers import EVERY_TYPE, pasta, seed_schema, settings_with, three_cafes

# -- coercion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("Servings", "3", 3),
        ("Servings", 2.5, 2.5),
        ("Servings", "1,5", 1.5),
        ("Servings", "1,200", 1200),
        ("Servings", "€12.50", 12.5),
        ("Servings", "four", 4),
        ("Vegetarian", "yes", True),
        ("Vegetarian", "No", False),
        ("Vegetarian", 1, True),
        ("Posted", "March 3, 2026", "2026-03-03"),
        ("Posted", "3rd of March 2026", "2026-03-03"),
        ("Posted", "Tuesday, 3 Mar 2026", "2026-03-03"),
        ("Posted", "2026-03-03", "2026-03-03"),
        ("Posted", "2026-03-03T18:30:00+01:00", "2026-03-03T18:30:00+01:00"),
        ("Posted", "25/12/2026", "2026-12-25"),
        ("Website", "www.chef.example/pasta", "https://www.chef.example/pasta"),
        ("Website", " https://chef.example ", "https://chef.example"),
        ("Contact", "mailto:chef@chef.example", "chef@chef.example"),
        ("Phone", "+351 21 123 4567", "+351 21 123 4567"),
        ("Course", "main", "Main"),  # an existing option, whatever the case
        ("Course", "Starter, cold", "Starter cold"),  # a new option, without its comma
        ("Stage", "cooked", "Cooked"),
        ("Tags", "italian, quick; vegan", ["Italian", "quick", "vegan"]),
        ("Tags", ["Italian", "italian", "Fast, easy"], ["Italian", "Fast", "easy"]),
        ("Notes", ["Boil.", "Drain."], "Boil.\nDrain."),
        ("Name", "  Tomato\n pasta ", "Tomato pasta"),
    ],
)
def test_values_are_coerced_where_the_meaning_is_clear(name, given, expected):
    assert coerce(EVERY_TYPE[name], given) == (expected, None)


@pytest.mark.parametrize(
    ("name", "given", "why"),
    [
        ("Servings", "a few", "not a number"),
        ("Servings", True, "a boolean is not a number"),
        ("Vegetarian", "maybe", "not yes or no"),
        ("Posted", "next Tuesday", "not a date"),
        ("Posted", "03/04/2026", "ambiguous day and month"),
        ("Posted", "February 30, 2026", "not a date"),
        ("Website", "see the caption", "not an http(s) URL"),
        ("Contact", "chef at example", "not an email address"),
        ("Phone", "call us", "not a phone number"),
        ("Stage", "Abandoned", "not an existing status option (options: To try, Cooked)"),
        ("Course", ["Main", "Dessert"], "one option expected"),
        ("Notes", {"text": "x"}, "not text"),
        ("Photos", ["a photo of the dish"], "no http(s) URL"),
    ],
)
def test_values_that_cannot_be_made_valid_are_refused_with_a_reason(name, given, why):
    value, problem = coerce(EVERY_TYPE[name], given)
    assert value is None and why in problem


def test_a_coerced_answer_encodes_without_anything_notion_would_refuse():
    answer = {
        "Name": "Tomato pasta",
        "Servings": "4",
        "Vegetarian": "yes",
        "Posted": "March 3, 2026",
        "Website": "chef.example",
        "Course": "MAIN",
        "Stage": "to try",
        "Tags": "Italian, quick",
        "Photos": ["https://x.example/a.jpg"],
        "Unknown": "x",
        "Notes": None,
    }
    checked = check_answer(answer, EVERY_TYPE)
    (item,) = checked.items
    assert checked.problems == []
    assert checked.ignored == ["Photos", "Unknown"]  # not the model's to fill: no repair
    properties = encode_properties(EVERY_TYPE, item)
    assert properties["Servings"] == {"number": 4}
    assert properties["Vegetarian"] == {"checkbox": True}
    assert properties["Posted"] == {"date": {"start": "2026-03-03"}}
    assert properties["Website"] == {"url": "https://chef.example"}
    assert properties["Course"] == {"select": {"name": "Main"}}
    assert properties["Stage"] == {"status": {"name": "To try"}}
    assert properties["Tags"] == {"multi_select": [{"name": "Italian"}, {"name": "quick"}]}


def test_structural_problems_raise_answer_errors():
    schema = seed_schema("cooking")
    with pytest.raises(AnswerError, match="not valid JSON"):
        parse_json('{"name": "Pasta",')
    with pytest.raises(AnswerError, match="empty"):
        parse_json("")
    assert parse_json('```json\n{"name": "Pasta"}\n```') == {"name": "Pasta"}
    with pytest.raises(AnswerError, match="JSON object"):
        check_answer(["Pasta"], schema)
    with pytest.raises(AnswerError, match='title "name" is missing'):
        check_answer({"steps": "Boil."}, schema)
    with pytest.raises(AnswerError, match='"items" array'):
        check_answer({"name": "Pasta"}, schema, many=True)
    checked = check_answer(
        {"items": [{"name": "A"}, {"steps": "no title"}, "junk"]}, schema, many=True
    )
    assert [item["name"] for item in checked.items] == ["A"]
    assert checked.problems == ['item 2: the title "name" is missing', "item 3: not a JSON object"]


# -- evidence ------------------------------------------------------------------------------


def test_evidence_says_where_each_value_came_from():
    content = pasta()
    assert locate("Tomato Pasta", content) == "on-screen text at 0:00"
    assert locate(["Spaghetti", "Garlic and basil"], content) == "on-screen text at 0:04 and 0:08"
    assert locate("Boil the spaghetti for ten minutes", content) == "transcript at 0:02"
    assert locate("Tomato pasta in 15 minutes", content) == "caption"
    assert locate("https://chef.example/pasta", content) == "caption"
    assert locate(content.url, content) == "the video's link"
    assert locate("Served with parmesan and a glass of wine", content) == NOT_FOUND
    assert "1 of 2 not found" in locate(["Spaghetti", "Parmesan"], content)
    (evidence,) = evidence_for([{"name": "Tomato Pasta", "steps": content.transcript}], content)
    assert evidence == {
        "name": "on-screen text at 0:00",
        "steps": "transcript at 0:00 and 0:02",
    }


# -- prompt --------------------------------------------------------------------------------


def test_trim_never_cuts_a_word_and_says_so():
    text = "Boil the spaghetti for ten minutes"
    assert trim(text, 100) == text
    assert trim(text, 16) == "Boil the […trimmed: first 8 of 34 characters]"
    assert trim(text, 18) == "Boil the spaghetti […trimmed: first 18 of 34 characters]"


def test_prompt_has_labelled_sections_within_a_stated_budget():
    content = pasta()
    content.transcript = " ".join(["word"] * 5000)  # 24999 characters
    prompt = build_prompt(
        content, budget=3000, user_prompt="Quantities in grams.", many=False, language=""
    )
    user = prompt.user
    assert "Tag: cooking" in user and f"Source URL: {content.url}" in user
    assert "Uploader: chef" in user and "Hashtags: #pasta #dinner" in user
    assert "Input budget: 3000 characters" in user
    assert "## Caption\nTomato pasta in 15 minutes" in user
    assert "## Transcript (language: en, source: speech)\n" in user
    assert "## On-screen text\nTomato Pasta\nSpaghetti\nGarlic and basil" in user
    transcript = user.split("## Transcript")[1].split("## On-screen text")[0]
    assert "[…trimmed: first" in transcript and "of 24999 characters]" in transcript
    assert "wor […" not in transcript  # whole words only
    caption_and_screen = len(content.caption) + len(content.screen_text)
    assert len(transcript) < 3000 - caption_and_screen + 200
    assert prompt.trimmed == [
        f"transcript: first {3000 - caption_and_screen} of 24999 characters sent"
    ]
    assert "The database owner adds: Quantities in grams." in prompt.system
    assert "language of the video (en)" in prompt.system


def test_prompt_asks_for_the_output_language_and_several_items():
    prompt = build_prompt(three_cafes(), many=True, language="French")
    assert "in French" in prompt.system and "one entry per distinct item" in prompt.system


# -- extractive fallback -------------------------------------------------------------------


def test_extractive_fallback_puts_title_urls_and_text_where_a_person_expects():
    values = extractive.extract(pasta(), seed_schema("cooking"))
    assert values == {
        "name": "Tomato pasta in 15 minutes 🍅",  # the caption's first line
        "video_link": "https://www.tiktok.com/@chef/video/7301",
        "ingredients": ["pasta", "dinner"],  # the caption's hashtags
        # the spoken instruction, numbered; "Today we make tomato pasta." is no step
        "steps": "1. Boil the spaghetti for 10 minutes, then add the garlic and basil.",
    }
    place = Content(
        url="https://www.tiktok.com/@w/video/9",
        tag="places",
        caption="Café Lumière, best croissants in Paris\nAddress: 12 Rue des Martyrs\n"
        "Hours: 8-18 every day\nWebsite: cafelumiere.example\nPop-up: no\n#paris #bakery",
        transcript="The croissants here are unreal, go early.",
        transcript_engine="faster-whisper",
    )
    values = extractive.extract(place, seed_schema("places"))
    assert values["name"] == "Café Lumière, best croissants in Paris"
    assert values["address"] == "12 Rue des Martyrs"  # labelled, not the transcript
    assert values["hours"] == "8-18 every day"
    assert values["website"] == "https://cafelumiere.example"
    assert values["video_link"] == place.url
    assert values["categories"] == ["paris", "bakery"]
    assert values["recommendation"] == place.transcript  # the body goes to a text field
    assert "is_popup" not in values  # "Pop-up: no" is not "is_popup"


def test_extractive_fallback_without_speech_uses_the_screen_text():
    content = pasta()
    content.caption = content.transcript = ""
    content.segments = []
    values = extractive.extract(content, seed_schema("cooking"))
    assert values["name"] == "Tomato Pasta"
    assert values["ingredients"] == ["Spaghetti", "Garlic and basil"]
    assert values["steps"] == "Spaghetti\nGarlic and basil"


# -- cost ----------------------------------------------------------------------------------


def test_cost_estimate_from_a_job_document(monkeypatch, env):
    settings = settings_with(
        monkeypatch,
        SVP_PRICE_INPUT_PER_MTOK="1",
        SVP_PRICE_OUTPUT_PER_MTOK="4",
        SVP_PRICE_TRANSCRIBE_PER_MINUTE="0.01",
        SVP_PRICE_OCR_PER_1000_IMAGES="2",
    )
    job = {
        "stages": {
            "transcriber": {"output": {"engine": "openai", "minutes": 1.5}},
            "ocr": {"output": {"engine": "vision", "frames": 6}},
            "summarizer": {
                "output": {
                    "engine": "gemini",
                    "model": "gemini-test",
                    "usage": {"input_tokens": 200_000, "output_tokens": 50_000},
                }
            },
        }
    }
    estimate = cost.estimate(job, settings)
    assert estimate["llm"]["usd"] == pytest.approx(0.2 + 0.2)
    assert estimate["transcription"] == {"engine": "openai", "minutes": 1.5, "usd": 0.015}
    assert estimate["ocr"] == {"engine": "vision", "images": 6, "usd": 0.012}
    assert estimate["total_usd"] == pytest.approx(0.427)
    assert cost.describe(estimate).startswith("$0.4270 (LLM 200000 in / 50000 out tokens")

    local = {
        "stages": {
            "transcriber": {"output": {"engine": "faster-whisper", "minutes": 1.5}},
            "ocr": {"output": {"frames": 6}},  # settings say tesseract
            "summarizer": {"output": {"engine": "extractive", "usage": {"input_tokens": 0}}},
        }
    }
    assert cost.estimate(local, settings)["total_usd"] == 0
    assert cost.describe(cost.estimate({}, settings)) == "$0.0000"


def test_bad_prices_are_reported_by_name(monkeypatch, env):
    from svp.config import ConfigError

    with pytest.raises(ConfigError, match="SVP_PRICE_INPUT_PER_MTOK='-1': must not be negative"):
        settings_with(monkeypatch, SVP_PRICE_INPUT_PER_MTOK="-1")


def test_evidence_and_prompt_for_a_photo_post_with_subtitled_speech():
    content = pasta()
    content.transcript_source = "subtitles"
    content.screen_lines = [{"text": "Tomato Pasta", "seconds": None, "image": 1}]
    assert locate("Tomato Pasta", content) == "text in image 2"
    assert "source: subtitles)" in build_prompt(content).user
