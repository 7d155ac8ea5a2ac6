"""Transcription: pieces and seams, platform subtitles, long and speechless clips end to end."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.media import chunking, subtitles
from svp.stages.transcriber import from_subtitles
from tests.clipgen import make_clip, speech

# -- pieces and seams (no media) ---------------------------------------------------------------


def test_short_audio_is_one_piece():
    assert chunking.plan(590.0, 600.0) == [chunking.Piece(0.0, 590.0)]


def test_long_audio_is_cut_with_overlap_and_covers_everything():
    pieces = chunking.plan(1500.0, 600.0)
    assert pieces[0].start == 0 and pieces[-1].end == 1500.0
    for before, after in itertools.pairwise(pieces):
        assert before.end - after.start == pytest.approx(chunking.OVERLAP_SECONDS)
        assert before.length <= 600.0
    assert len(pieces) == 3


def test_cuts_go_into_pauses_when_voice_activity_is_known():
    speech_spans = [(0.0, 580.0), (588.0, 640.0)]  # a pause from 580 to 588 s
    first, second = chunking.plan(700.0, 600.0, speech_spans)
    assert 580.0 <= second.start <= 588.0
    assert first.end == pytest.approx(second.start + chunking.OVERLAP_SECONDS)


def test_pieces_stay_under_the_upload_limit():
    # 100 MB over 10 minutes: pieces of at most ~24 MB
    longest = chunking.max_piece_seconds(100 * 1024 * 1024, 600.0, 600.0)
    assert longest * (100 * 1024 * 1024 / 600.0) <= chunking.SAFE_BYTES + 1


@pytest.mark.parametrize(
    ("pieces", "joined"),
    [
        (
            ["we boil the pasta and then add the gar", "add the garlic and basil to the pan"],
            "we boil the pasta and then add the garlic and basil to the pan",
        ),
        (
            ["first we chop the onions finely", "onions finely then we fry them"],
            "first we chop the onions finely then we fry them",
        ),
        (
            ["stir for two minutes, then season.", "-utes then season with salt and pepper"],
            "stir for two minutes, then season with salt and pepper",
        ),
        (
            ["add ten grams of salt and stir it well", "add 10 grams of salt and stir it well now"],
            "add 10 grams of salt and stir it well now",
        ),  # one word read differently
        (
            ["no overlap here", "completely different words"],
            "no overlap here completely different words",
        ),
        (["the end", ""], "the end"),
    ],
)
def test_seams_keep_one_copy_of_the_words_heard_twice(pieces, joined):
    assert chunking.join_texts(pieces) == joined


def test_segments_are_put_on_one_timeline_without_doubles():
    pieces = [chunking.Piece(0.0, 603.0), chunking.Piece(600.0, 900.0)]
    first = [{"start": 10.0, "end": 12.0, "text": "a"}, {"start": 12.0, "end": 602.9, "text": "b-"}]
    second = [{"start": 0.6, "end": 2.8, "text": "b"}, {"start": 50.0, "end": 51.0, "text": "c"}]
    speech = [(10.0, 12.0), (600.6, 602.8), (650.0, 651.0)]  # the cut at 600 s is in a pause
    kept = chunking.join_segments(pieces, [first, second], speech)
    assert [[s["text"] for s in piece] for piece in kept] == [["a"], ["b", "c"]]
    assert kept[1][0]["start"] == 600.6
    stretched = [{"start": 12.0, "end": 602.8, "text": "b"}]
    assert chunking.snap_starts(stretched, speech)[0]["start"] == 600.6


# -- platform subtitles ------------------------------------------------------------------------
ROLLING_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.000 align:start position:0%
boil<00:00:00.500><c> the</c><00:00:01.000><c> pasta</c>

00:00:02.000 --> 00:00:02.010 align:start position:0%
boil the pasta

00:00:02.010 --> 00:00:04.000 align:start position:0%
boil the pasta
then<00:00:02.500><c> add</c><c> basil</c>

NOTE a comment

00:00:04.000 --> 00:00:06.000
then add basil
&amp; serve
"""

SRT = """1
00:00:01,000 --> 00:00:03,500
Hola a todos

2
00:00:03,500 --> 00:00:06,000
hoy hacemos pasta
"""


def test_rolling_captions_are_read_once():
    segments = subtitles.parse(ROLLING_VTT)
    assert [s["text"] for s in segments] == ["boil the pasta", "then add basil", "& serve"]
    assert segments[0]["start"] == 0.0 and segments[-1]["end"] == 6.0


def test_srt_and_language_codes():
    assert [s["text"] for s in subtitles.parse(SRT)] == ["Hola a todos", "hoy hacemos pasta"]
    assert subtitles.language_code("eng-US") == "en"
    assert subtitles.language_code("es-419") == "es"
    assert subtitles.language_code("en-orig") == "en"
    assert subtitles.parse("not subtitles at all") == []


def test_subtitles_become_the_transcript_in_their_language():
    transcript = from_subtitles({"subtitles": {"spa-ES": SRT}, "subtitle_language": "spa-ES"})
    assert transcript is not None
    assert transcript.source == "subtitles" and transcript.language == "es"
    assert transcript.text == "Hola a todos hoy hacemos pasta"
    assert from_subtitles({"subtitles": {}}) is None


# -- clips end to end --------------------------------------------------------------------------
SAID = (
    "Welcome to the long kitchen video.",
    "Now stir the soup slowly with a wooden spoon.",
    "Finally serve the soup with fresh basil.",
)
AT = (2.0, 597.5, 700.0)  # the second line sits where the audio would be cut


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve minutes, mostly silence, three spoken lines; tiny and fast to make."""
    folder = tmp_path_factory.mktemp("long")
    wavs = [speech(text, folder / f"s{i}.wav") for i, text in enumerate(SAID)]
    out = folder / "twelve-minutes.mp4"
    inputs = [arg for wav in wavs for arg in ("-i", str(wav))]
    delays = ";".join(f"[{i + 2}:a]adelay={int(t * 1000)}[a{i}]" for i, t in enumerate(AT))
    mix = "[1:a]" + "".join(f"[a{i}]" for i in range(3))
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=0x223344:size=160x284:rate=1",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=16000:cl=mono",
            *inputs,
            "-filter_complex",
            f"{delays};{mix}amix=inputs=4:duration=first:normalize=0[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-t",
            "720",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "2",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            str(out),
        ],
        check=True,
    )
    return out


def _job_output(capsys, stage: str) -> dict:
    assert svp(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    return job["stages"][stage]["output"]


def _transcript(env, output: dict) -> dict:
    from svp.config import load_settings
    from svp.wiring import build_runtime

    runtime = build_runtime(load_settings(dotenv=None))
    return json.loads(runtime.blobs.get_bytes(output["artifacts"]["transcript"]))


@pytest.mark.slow
def test_a_twelve_minute_clip_is_transcribed_in_pieces_and_ends_done(
    env, long_clip, capsys, monkeypatch
):
    monkeypatch.setenv("SVP_MAX_SECONDS", "900")
    assert svp(["process", str(long_clip), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert "wooden spoon" in page.lower()
    output = _job_output(capsys, "transcriber")
    assert output["pieces"] == 2 and output["source"] == "speech"
    transcript = _transcript(env, output)
    text = transcript["text"].lower()
    for line in ("welcome", "wooden spoon", "basil"):
        assert line in text, text
    words = re.findall(r"[a-z]+", text)
    assert words.count("stir") == 1 and words.count("wooden") == 1  # nothing doubled at the seam
    starts = [s["start"] for s in transcript["segments"]]
    assert starts == sorted(starts) and starts[-1] > 690  # one timeline


@pytest.mark.slow
def test_long_audio_goes_to_the_api_in_pieces_and_silence_is_not_sent(
    env, long_clip, capsys, monkeypatch, fake_openai
):
    monkeypatch.setenv("SVP_MAX_SECONDS", "900")
    monkeypatch.setenv("SVP_TRANSCRIBE_CHUNK_SECONDS", "300")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url + "/v1")
    replies = iter(
        [
            "Welcome to the long kitchen video.",
            "Now stir the soup slowly with a wooden spoon. "
            "Finally serve the soup with fresh basil.",
        ]
    )
    fake_openai.transcriber = lambda name, audio, form: next(replies)
    assert svp(["process", str(long_clip), "--tag", "cooking"]) == 0
    capsys.readouterr()
    uploads = fake_openai.uploads
    # 720 s in pieces of at most 300 s, cut in pauses: the middle piece has no voice, so it is
    # not sent; the two others are.
    assert len(uploads) == 2
    assert all(u["file"].filename.endswith(".flac") for u in uploads)
    assert all(len(u["file"].data) < 25 * 1024 * 1024 for u in uploads)
    output = _job_output(capsys, "transcriber")
    assert output["engine"] == "openai" and output["pieces"] == 3
    assert 0 < output["minutes"] < 12
    text = _transcript(env, output)["text"]
    assert text == (
        "Welcome to the long kitchen video. Now stir the soup slowly with a wooden spoon. "
        "Finally serve the soup with fresh basil."
    )
    assert _transcript(env, output)["language"] == "en"


@pytest.fixture(scope="module")
def music_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty seconds of chords over a title: no one speaks."""
    folder = tmp_path_factory.mktemp("music")
    out = folder / "music.mp4"
    make_clip(out, overlays=[(0, 20, "Sunday brunch")], duration=20, size=(360, 640))
    with_music = folder / "music-with-audio.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(out),
            "-f",
            "lavfi",
            "-i",
            "sine=f=220:d=20",
            "-f",
            "lavfi",
            "-i",
            "sine=f=277:d=20",
            "-f",
            "lavfi",
            "-i",
            "sine=f=330:d=20",
            "-filter_complex",
            "[1:a][2:a][3:a]amix=inputs=3[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            str(with_music),
        ],
        check=True,
    )
    return with_music


@pytest.mark.slow
def test_a_video_without_speech_ends_done_with_an_empty_transcript(
    env, music_clip, capsys, monkeypatch, fake_openai
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url + "/v1")
    fake_openai.transcriber = lambda name, audio, form: "Thanks for watching!"  # a hallucination
    assert svp(["process", str(music_clip), "--tag", "cooking"]) == 0
    assert "Sunday brunch" in capsys.readouterr().out
    assert fake_openai.uploads == []  # no voice: nothing sent, nothing invented
    output = _job_output(capsys, "transcriber")
    assert output["source"] == "none" and output["chars"] == 0 and output["minutes"] == 0
