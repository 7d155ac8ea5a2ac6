"""Speech in another language than the bundled English-only model's: a notice, no invented English.

Real faster-whisper (tiny.en, bundled) on espeak-ng voices; the caption's language by py3langid.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.config import Settings
from svp.media.language import identify
from svp.media.transcribe import bundled_model_path, transcribe
from svp.stages.transcriber import language_hint
from tests.clipgen import make_clip, speech

SPANISH = (
    "Hoy vamos a preparar una tortilla de patatas. Primero, pela las patatas y córtalas en "
    "rodajas finas. Después, fríelas en aceite de oliva."
)
PORTUGUESE = (
    "Hoje vamos fazer um bolo de cenoura muito fácil. Primeiro, misture os ovos com o açúcar e "
    "o óleo. Depois, acrescente a farinha e leve ao forno por quarenta minutos."
)


def test_a_caption_names_its_language_and_a_short_or_unclear_one_names_none():
    assert identify("Receita fácil de pão de queijo 🧀 #receita #comida") == "pt"
    assert identify("Cómo hacer arroz perfecto siempre #cocina") == "es"
    assert identify("The best banana bread you will ever make #baking") == "en"
    assert identify("Yum! #food @chefmia https://example.com/recipe") == ""
    # Metadata and subtitle tracks come first; the caption only for the local model.
    assert language_hint({"language": "pt-BR", "description": "Easy dinner"}, local=True) == "pt"
    assert language_hint({"description": "Cena rápida en quince minutos"}, local=True) == "es"
    assert language_hint({"description": "Cena rápida en quince minutos"}, local=False) == ""


@pytest.fixture
def without_multilingual(monkeypatch):
    """As on a machine without the multilingual model's packages (tests/test_multilingual.py
    has it)."""
    from svp.media import whisper_models

    monkeypatch.setattr(whisper_models, "base_parts", lambda: None)


@pytest.mark.slow
def test_portuguese_speech_named_by_the_caption_gets_a_notice_not_a_transcript(
    tmp_path, without_multilingual
):
    audio = speech(PORTUGUESE, tmp_path / "pt.wav", voice="pt")
    result = transcribe(audio, Settings(), duration=12.0, scratch=tmp_path, language_hint="pt")
    assert result.text == "" and result.source == "none" and result.language == "pt"
    assert result.notice == (
        "speech in Portuguese: set OPENAI_API_KEY or SVP_WHISPER_MODEL for a multilingual model"
    )


@pytest.mark.slow
def test_a_spanish_video_gets_the_notice_and_no_english_hallucination(
    env, tmp_path, capsys, without_multilingual
):
    clip = make_clip(
        tmp_path / "tortilla.mp4",
        speech_text=SPANISH,
        voice="es",
        overlays=[(0, 9, "Tortilla de patatas")],
        duration=9,
        size=(360, 640),
    )
    assert svp(["process", str(clip), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    transcript = page.split("## Transcript", 1)[1].split("\n## ", 1)[0]
    assert "speech not in English: set OPENAI_API_KEY or SVP_WHISPER_MODEL" in transcript
    # tiny.en turns this speech into English sentences ("We are going to be the first to get
    # to the next one"): none of it may reach the page.
    assert not re.search(r"\b(we|are|going|first|next|one)\b", transcript, re.I), transcript
    assert not re.search(r"\b(going|first|next)\b", page, re.I), page
    assert page.startswith("# Tortilla de patatas")  # the on-screen text still fills the page
    assert svp(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert job["stages"]["transcriber"]["output"]["chars"] == 0


@pytest.mark.slow
def test_any_faster_whisper_model_directory_is_accepted(env, tmp_path, monkeypatch, capsys):
    model = shutil.copytree(bundled_model_path(), tmp_path / "my-model")
    monkeypatch.setenv("SVP_WHISPER_MODEL", str(model))
    clip = make_clip(
        tmp_path / "hello.mp4",
        speech_text="Boil the pasta for ten minutes.",
        duration=4,
        size=(160, 284),
    )
    assert svp(["process", str(clip), "--tag", "cooking"]) == 0
    assert "boil the pasta" in capsys.readouterr().out.lower()
    monkeypatch.setenv("SVP_WHISPER_MODEL", str(tmp_path / "not-a-model"))
    (tmp_path / "not-a-model").mkdir()
    assert svp(["process", str(clip), "--tag", "cooking"]) == 1
    assert "is not a faster-whisper model directory" in capsys.readouterr().err


def test_the_bundled_model_is_a_directory(tmp_path):
    assert (Path(bundled_model_path()) / "model.bin").is_file()
