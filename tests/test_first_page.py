"""The page a person gets with no keys: steps as steps, a summary that says what the video is,
on-screen text as a list, a file named by its title, the source named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.stages import local_page
from svp.summary import extractive, spoken
from svp.summary.content import Content
from svp.summary.summarize import summarize
from tests.summary_helpers import seed_schema

SPOKEN = (
    "Hi everyone, today we make a quick tomato basil pasta. First, boil the spaghetti in "
    "salted water for 10 minutes. Meanwhile, fry two cloves of garlic in olive oil and add the "
    "chopped tomatoes. Let the sauce simmer for 5 minutes. Then you toss the pasta with the "
    "sauce. And enjoy your dinner. Thanks for watching, follow for more recipes!"
)


def _pasta(transcript: str = SPOKEN, language: str = "en") -> Content:
    return Content(
        url="",
        tag="cooking",
        transcript=transcript,
        language=language,
        transcript_engine="faster-whisper tiny.en",
        screen_lines=[
            {"text": "Tomato Basil Pasta", "seconds": 0.0},
            {"text": "200 g spaghetti", "seconds": 4.0},
            {"text": "2 cloves garlic", "seconds": 8.0},
        ],
    )


def test_steps_are_the_instructions_in_order_without_greeting_or_sign_off():
    values = extractive.extract(_pasta(), seed_schema("cooking"))
    assert values["steps"].splitlines() == [
        "1. Boil the spaghetti in salted water for 10 minutes.",
        "2. Meanwhile, fry two cloves of garlic in olive oil and add the chopped tomatoes.",
        "3. Let the sauce simmer for 5 minutes.",
        "4. Toss the pasta with the sauce.",
    ]
    assert "Hi everyone" not in values["steps"] and "enjoy" not in values["steps"]


def test_a_text_field_that_is_not_steps_gets_the_speech_without_greetings():
    place = Content(
        url="https://www.tiktok.com/@w/video/9",
        tag="places",
        transcript="Hey guys! This café is amazing. The croissants here are unreal, go early. "
        "Thanks for watching!",
    )
    values = extractive.extract(place, seed_schema("places"))
    assert values["recommendation"] == (
        "This café is amazing. The croissants here are unreal, go early."
    )


def test_speech_in_another_language_is_kept_as_heard():
    heard = "Hola a todos. Hierve la pasta diez minutos."
    values = extractive.extract(_pasta(heard, "es"), seed_schema("cooking"))
    assert values["steps"] == heard


def test_no_instructions_heard_keeps_the_sentences():
    said = "Hi everyone. This pasta is my favourite. It is so good."
    values = extractive.extract(_pasta(said), seed_schema("cooking"))
    assert values["steps"] == "This pasta is my favourite. It is so good."


def test_sentences_are_sorted_by_what_they_do():
    assert spoken.without_greeting("Hey guys, welcome back to my kitchen!") == ""
    assert spoken.is_sign_off("And enjoy your dinner.")
    assert spoken.is_sign_off("Don't forget to follow for more recipes.")
    assert not spoken.is_sign_off("Add the basil.")
    assert spoken.as_step("Next, we add the garlic.") == "Add the garlic."
    assert spoken.as_step("We are going to the market.") == ""
    assert spoken.as_step("The croissants here are unreal.") == ""
    assert spoken.intro(SPOKEN) == "Today we make a quick tomato basil pasta."


def test_the_summary_says_what_the_video_is(settings):
    summary = summarize(_pasta(), seed_schema("cooking"), settings)
    text = summary["summary"]
    assert text.startswith("A cooking video: Tomato Basil Pasta.")
    assert "Today we make a quick tomato basil pasta." in text
    assert "2 ingredients: 200 g spaghetti and 2 cloves garlic." in text
    assert "4 steps, from “Boil the spaghetti in salted water for 10 minutes” to" in text
    assert "Hi everyone" not in text


def test_local_file_names_come_from_the_title_and_stay_unique(tmp_path):
    assert local_page.slug("Crème brûlée in 5 min! 🍮") == "creme-brulee-in-5-min"
    assert local_page.slug("🍮🍮") == "page"
    first = local_page.reserve(tmp_path, "Tomato Pasta", "job-1")
    assert first.name == "tomato-pasta.md"
    assert local_page.reserve(tmp_path, "Tomato Pasta", "job-1") == first  # a retry finds it
    assert local_page.reserve(tmp_path, "Tomato Pasta", "job-2").name == "tomato-pasta-2.md"


def test_the_page_lists_screen_text_and_names_its_source():
    summary = {
        "summary": "A cooking video: Tomato Basil Pasta.",
        "content": {
            "transcript": "Boil the pasta.",
            "language": "en",
            "transcript_source": "speech",
            "transcript_engine": "faster-whisper base (multilingual)",
            "screen_lines": [
                {"text": "Tomato Basil Pasta", "seconds": 0.0},
                {"text": "200 g spaghetti", "seconds": 65.0},
            ],
            "persistent_lines": [{"text": "@chef"}],
        },
    }
    page = local_page.markdown(
        "Tomato Basil Pasta",
        {"steps": "1. Boil the pasta.\n2. Drain it.", "ingredients": ["spaghetti"]},
        summary,
        {"file": "dinner.mp4"},
    )
    lines = page.splitlines()
    assert "## On-screen text" in lines
    assert "- Tomato Basil Pasta _(0:00)_" in lines and "- 200 g spaghetti _(1:05)_" in lines
    assert "- @chef" in lines
    assert lines[lines.index("- **steps**:") + 1 : lines.index("- **steps**:") + 3] == [
        "  1. Boil the pasta.",
        "  2. Drain it.",
    ]
    assert "## Transcript (en, speech, heard by faster-whisper base (multilingual))" in lines
    assert lines[-1] == "Source: local file `dinner.mp4`"


def test_svp_process_writes_a_page_named_by_its_title(env, clips, capsys):
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    found = re.search(r"Page: file://(\S+\.md)", capsys.readouterr().err)
    assert found
    page = Path(found.group(1))
    assert page.name == "tomato-pasta.md"
    text = page.read_text()
    assert "Source: local file `pasta.mp4`" in text
    assert "A cooking video: Tomato Pasta." in text
    assert re.search(r"^  1\. Boil the spaghetti for (10|ten) minutes", text, re.M)
    assert "- Garlic and basil _(0:08)_" in text
    # A second run of the same file is another job: another page, not an overwrite.
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    assert (page.parent / "tomato-pasta-2.md").is_file() and page.read_text() == text


@pytest.mark.slow
def test_the_demo_clip_makes_a_page_worth_opening(env, capsys, monkeypatch):
    """`make demo`: the sample clip becomes a page with steps, ingredients and a photograph."""
    monkeypatch.delenv("SVP_OCR", raising=False)  # the default engine, as `make demo` runs
    sample = Path(__file__).resolve().parents[1] / "samples" / "cooking-demo.mp4"
    assert sample.stat().st_size < 2 * 1024 * 1024
    assert svp(["process", str(sample), "--tag", "cooking"]) == 0
    found = re.search(r"Page: file://(\S+\.md)", capsys.readouterr().err)
    assert found
    page = Path(found.group(1))
    text = page.read_text()
    assert page.name == "perfect-espresso.md" and text.startswith("# Perfect Espresso")
    assert "- **ingredients**: 18 g coffee beans, 40 ml water, Sugar to taste" in text
    steps = re.findall(r"^  \d\. (.+)$", text, re.M)
    assert len(steps) == 4 and steps[0].startswith("Grind 18 grams of coffee beans")
    assert not any(re.search(r"\b(hi|everyone|enjoy)\b", s, re.I) for s in steps)
    assert "A cooking video: Perfect Espresso. Today we make a perfect espresso at home." in text
    # The picture is the photograph: taken where no overlay shows (after 0:19).
    shown = re.search(r"^!\[Frame at 0:(\d\d)\]\((perfect-espresso-1\.jpg)\)$", text, re.M)
    assert shown and int(shown.group(1)) >= 20 and (page.parent / shown.group(2)).is_file()
