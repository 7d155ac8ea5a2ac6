"""ffprobe, ffmpeg and PyAV read the file they are given and nothing else.

A "video" that is an HLS playlist, a concat script or a DASH manifest names other files; a
symlink or a hard link is another file. Each ends as "not a video", and inotify (tests/opens.py)
shows the canary file outside the scratch folder was never opened by any process.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.media.audio import extract_audio
from svp.media.download import Fetched, files_inside
from svp.media.ffmpeg import NotAVideo, open_container
from svp.media.frames import sample_frames
from svp.media.probe import probe
from tests.opens import OpenWatch


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Path:
    """outside/canary.ts: a real MPEG-TS clip, so whatever follows a reference to it succeeds."""
    outside = tmp_path_factory.mktemp("outside")
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=d=2",
        "-f",
        "lavfi",
        "-i",
        "color=s=64x64:d=2",
        "-shortest",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        str(outside / "canary.ts"),
    )
    return outside / "canary.ts"


def disguises(canary: Path) -> dict[str, str]:
    """Files named like videos whose content names the canary, by absolute and relative path."""
    relative = os.path.relpath(canary, canary.parent.parent / "scratch")
    return {
        "hls-absolute.mp4": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\nfile://{canary}\n"
        "#EXT-X-ENDLIST\n",
        "hls-relative.mp4": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{relative}\n"
        "#EXT-X-ENDLIST\n",
        "concat.mp4": f"ffconcat version 1.0\nfile '{canary}'\n",
        "dash.mp4": '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'type="static" mediaPresentationDuration="PT2S"><Period><AdaptationSet>'
        f'<Representation id="1" bandwidth="1"><BaseURL>file://{canary}</BaseURL>'
        "</Representation></AdaptationSet></Period></MPD>",
    }


@pytest.fixture
def scratch(canary: Path) -> Path:
    folder = canary.parent.parent / "scratch"
    folder.mkdir(exist_ok=True)
    for name, text in disguises(canary).items():
        (folder / name).write_text(text)
    return folder


def test_the_watch_sees_plain_ffprobe_follow_a_playlist(canary, scratch):
    """The control: without the allow-lists, ffprobe opens the canary (the bug)."""
    with OpenWatch(canary.parent) as watch:
        subprocess.run(["ffprobe", "-v", "quiet", str(scratch / "hls-relative.mp4")], check=False)
    assert "canary.ts" in watch.opened


@pytest.mark.parametrize("name", ["hls-absolute.mp4", "hls-relative.mp4", "concat.mp4", "dash.mp4"])
def test_a_file_that_names_other_files_is_not_a_video_and_they_are_never_opened(
    canary, scratch, name
):
    path = scratch / name
    with OpenWatch(canary.parent) as watch:
        with pytest.raises(NotAVideo, match=r"^not a video: the downloaded file is an? ") as info:
            probe(path)
        with pytest.raises(NotAVideo, match=r"^not a video"):
            extract_audio(path, scratch / "out.flac")
        with pytest.raises(NotAVideo, match=r"^not a video"):
            open_container(path)
        with pytest.raises(NotAVideo, match=r"^not a video"):
            next(sample_frames(path))
    assert watch.opened == []
    if name.startswith("hls"):
        assert "an HLS playlist, not mp4/mov, webm/matroska, m4a, mp3" in info.value.reason


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_to_a_file_outside_the_scratch_folder_is_not_a_video(canary, scratch, link):
    clip = canary.parent / "real.mp4"
    _ffmpeg("-i", str(canary), "-c", "copy", str(clip))  # a real video outside: the target
    path = scratch / f"{link}.mp4"
    path.unlink(missing_ok=True)
    (os.symlink if link == "symbolic" else os.link)(clip, path)
    with OpenWatch(clip.parent) as watch:
        with pytest.raises(NotAVideo, match=rf"not a video: '{link}\.mp4' is a {link}"):
            probe(path)
        with pytest.raises(NotAVideo, match=r"not a video"):
            open_container(path)
        with pytest.raises(NotAVideo, match=r"not a video"):
            files_inside(Fetched(videos=[path]), scratch)
    assert watch.opened == []
    path.unlink()


def test_a_downloader_reporting_a_file_outside_its_folder_is_refused(canary, scratch):
    with pytest.raises(NotAVideo, match=r"outside its folder"):
        files_inside(Fetched(videos=[canary]), scratch)
    with pytest.raises(NotAVideo, match=r"not a regular file"):
        files_inside(Fetched(images=[scratch]), scratch)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("clip.mp4", ["-c:v", "libx264", "-c:a", "aac"]),
        ("clip.mov", ["-c:v", "libx264", "-c:a", "aac"]),
        ("clip.webm", ["-c:v", "libvpx", "-c:a", "libopus", "-deadline", "realtime"]),
        ("clip.mkv", ["-c:v", "libx264", "-c:a", "aac"]),
        ("clip.m4a", ["-vn", "-c:a", "aac"]),
        ("clip.mp3", ["-vn", "-c:a", "libmp3lame"]),
    ],
)
def test_the_formats_the_product_reads_still_open(tmp_path, name, encode):
    path = tmp_path / name
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-f",
        "lavfi",
        "-i",
        "color=s=64x64:d=1",
        "-shortest",
        *encode,
        str(path),
    )
    info = probe(path)
    assert info.has_audio and info.duration > 0.5
    assert info.has_video == (name not in ("clip.m4a", "clip.mp3"))
    assert extract_audio(path, tmp_path / "audio.flac").stat().st_size > 0


@pytest.mark.slow
def test_a_downloaded_playlist_fails_the_link_as_not_a_video(env, canary, monkeypatch, capsys):
    site = canary.parent.parent / "site"
    site.mkdir(exist_ok=True)
    for name, text in disguises(canary).items():
        (site / name).write_text(text)  # served as video/mp4: yt-dlp downloads it as is
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", f"127.0.0.1:{server.server_address[1]}")
    try:
        with OpenWatch(canary.parent) as watch:
            url = f"http://127.0.0.1:{server.server_address[1]}/hls-absolute.mp4"
            assert svp(["process", url, "--tag", "cooking"]) == 1
    finally:
        server.shutdown()
    assert watch.opened == []
    capsys.readouterr()
    assert svp(["jobs", "--failed", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert re.match(r"not a video: the downloaded file is an HLS playlist", job["error"])
    assert job["stages"]["downloader"]["attempts"] == 1
