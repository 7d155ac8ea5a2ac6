"""Speech the English-only model cannot follow, heard by the multilingual model (Whisper base,
shipped in two PyPI packages), with the page saying which model heard it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.config import Settings
from svp.errors import PermanentError
from svp.media import whisper_models
from svp.media.transcribe import transcribe
from tests.clipgen import make_clip, speech
from tests.test_languages import PORTUGUESE, SPANISH

pytestmark = pytest.mark.skipif(
    not whisper_models.multilingual_available(), reason="the multilingual model is not installed"
)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("SVP_MODEL_CACHE", str(folder))
    return folder


def test_the_model_is_joined_once_verified_and_rebuilt_when_corrupt(cache):
    folder = Path(whisper_models.multilingual_path())
    model = folder / "model.bin"
    assert folder.parent == cache and model.stat().st_size == 145_217_532
    assert {p.name for p in folder.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # nothing half-built left
    joined = model.stat().st_mtime_ns
    assert whisper_models.multilingual_path() == str(folder)
    assert model.stat().st_mtime_ns == joined  # joined once
    with model.open("r+b") as file:  # a flipped byte in the cache
        file.seek(1000)
        file.write(b"\x00\x01")
    assert whisper_models.multilingual_path() == str(folder)
    assert whisper_models.sha256(model) == whisper_models.BASE_SHA256


def test_a_package_that_does_not_rebuild_the_model_refuses_to_load(cache, tmp_path, monkeypatch):
    real = whisper_models.base_parts()
    assert real is not None
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in whisper_models.BASE_FILES:
        (fake / name).write_bytes((real[0].parent / name).read_bytes())
    (fake / "model.bin.part1").write_bytes(b"not the model")
    monkeypatch.setattr(whisper_models, "base_parts", lambda: [fake / "model.bin.part1", real[1]])
    with pytest.raises(PermanentError, match=r"do not rebuild the expected model\.bin"):
        whisper_models.multilingual_path()
    assert not list(cache.glob("*/model.bin"))


@pytest.mark.slow
def test_spanish_speech_the_english_model_cannot_follow_is_heard_in_spanish(cache, tmp_path):
    audio = speech(SPANISH, tmp_path / "es.wav", voice="es")
    result = transcribe(audio, Settings(), duration=12.0, scratch=tmp_path)  # no hint
    assert result.language == "es" and result.engine == "faster-whisper base"
    assert re.search(r"tortilla de patatas", result.text, re.I), result.text
    assert result.notice == ""


@pytest.mark.slow
def test_portuguese_named_by_the_post_goes_to_the_multilingual_model(cache, tmp_path):
    audio = speech(PORTUGUESE, tmp_path / "pt.wav", voice="pt")
    result = transcribe(audio, Settings(), duration=12.0, scratch=tmp_path, language_hint="pt")
    assert result.language == "pt" and result.engine == "faster-whisper base"
    assert re.search(r"\bfazer\b.*\bfácil\b", result.text), result.text


@pytest.mark.slow
def test_english_stays_with_the_fast_english_model(cache, tmp_path):
    audio = speech("Boil the pasta for ten minutes, then add the basil.", tmp_path / "en.wav")
    result = transcribe(audio, Settings(), duration=5.0, scratch=tmp_path)
    assert result.engine == "faster-whisper tiny.en" and "boil the pasta" in result.text.lower()
    assert not cache.exists()  # the multilingual model was not even joined


@pytest.mark.slow
def test_the_page_shows_spanish_speech_and_the_model_that_heard_it(env, cache, tmp_path, capsys):
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
    assert "## Transcript (es, speech, heard by faster-whisper base)" in page
    transcript = page.split("## Transcript", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"Hoy vamos a preparar una tortilla de patatas", transcript), transcript
    assert "speech not in English" not in page
    # Spanish steps are kept as heard (the step rules know English only).
    assert re.search(r"\*\*steps\*\*: Hoy vamos a preparar", page), page


def test_the_cache_falls_back_to_the_temporary_folder_when_home_is_not_writable(
    tmp_path, monkeypatch
):
    """A Cloud Function's home cannot be written: the joined model goes to its /tmp."""
    import tempfile

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.delenv("SVP_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    assert whisper_models.cache_root() == tmp_path / "tmp" / "svp-models"
