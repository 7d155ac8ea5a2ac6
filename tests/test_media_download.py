"""Downloads: real yt-dlp (and gallery-dl) failures and successes, produced offline on loopback.

Every server here listens on 127.0.0.1; links are admitted with SVP_ALLOWED_HOSTS.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.config import load_settings
from svp.errors import PermanentError, TransientError
from svp.media.download import classify, download
from svp.media.urlguard import Refused
from tests.clipgen import FONT, _escape

pytestmark = pytest.mark.slow
IMAGE_TEXTS = ("Lemon tart", "Shortcrust pastry", "Bake 25 minutes")


def make_image(out: Path, text: str) -> Path:
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
            "color=c=0x2d4a6b:size=720x960",
            "-frames:v",
            "1",
            "-vf",
            f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize=56:fontcolor=white:"
            "x=(w-text_w)/2:y=(h-text_h)/2",
            str(out),
        ],
        check=True,
    )
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/go?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
            return
        if self.path == "/stream.mp4":  # no Content-Length: the size is known only by reading
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            block = b"\0" * 65536
            try:
                for _ in range(40):  # 2.5 MB
                    self.wfile.write(block)
            except OSError:
                pass
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def site(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A post server (admitted) and a second loopback server (never admitted)."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copy(clips / "pasta.mp4", folder / "pasta.mp4")
    (folder / "big.mp4").write_bytes(b"\0" * (2 * 1024 * 1024 + 10))
    (folder / "page.html").write_text("<html><body><p>No video here.</p></body></html>")
    for i, text in enumerate(IMAGE_TEXTS):
        make_image(folder / f"slide{i + 1}.png", text)
    (folder / "post.html").write_text(
        "<html><head><title>Lemon tart slides</title>"
        '<meta property="og:title" content="Lemon tart in three slides">'
        '<meta property="og:description" content="My lemon tart recipe #baking #dessert">'
        '<meta name="author" content="Chef Ana"></head><body>'
        + "".join(f'<img src="slide{i + 1}.png">' for i in range(len(IMAGE_TEXTS)))
        + '<img src="slide1.png"></body></html>'  # a repeat: kept once
    )
    (folder / "sub.vtt").write_text(
        "WEBVTT\n\n00:00:00.500 --> 00:00:03.000\nSubtitles say: boil the pasta.\n\n"
        "00:00:03.000 --> 00:00:06.000\nThen add the basil.\n"
    )
    (folder / "withsubs.html").write_text(
        '<html><head><title>Pasta with subtitles</title><meta property="og:description" '
        'content="Quick pasta #dinner"></head><body><video controls src="pasta.mp4">'
        '<track kind="subtitles" src="sub.vtt" srclang="en" label="English"></video></body></html>'
    )
    server, base = _serve(folder)
    other, other_base = _serve(folder)
    yield {
        "base": base,
        "port": server.server_address[1],
        "other": other_base,
        "other_server": other,
        "server": server,
    }
    server.shutdown()
    other.shutdown()


@pytest.fixture
def admitted(env, monkeypatch, site):
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", f"127.0.0.1:{site['port']}")
    return site


def _download(url: str, tmp_path: Path, **variables: str):
    settings = load_settings({**_env(), **variables}, dotenv=None)
    return download(url, tmp_path / "dl", settings)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


# -- real yt-dlp failures, classified ----------------------------------------------------------
def test_a_404_is_a_permanent_not_found(admitted, tmp_path):
    with pytest.raises(PermanentError, match=r"the video was not found .*404"):
        _download(f"{admitted['base']}/missing.mp4", tmp_path)


def test_a_page_without_media_is_not_supported(admitted, tmp_path):
    with pytest.raises(PermanentError, match=r"this site or link is not supported"):
        _download(f"{admitted['base']}/page.html", tmp_path)


def test_a_file_over_the_size_cap_is_refused_with_the_limit(admitted, tmp_path):
    with pytest.raises(PermanentError, match=r"larger than the 1 MB limit \(SVP_MAX_MB\)"):
        _download(f"{admitted['base']}/big.mp4", tmp_path, SVP_MAX_MB="1")
    assert not list((tmp_path / "dl").glob("*.mp4"))


def test_a_stream_without_length_is_cut_at_the_size_cap(admitted, tmp_path):
    with pytest.raises(PermanentError, match=r"larger than the 1 MB limit"):
        _download(f"{admitted['base']}/stream.mp4", tmp_path, SVP_MAX_MB="1")


def test_a_redirect_to_a_loopback_port_not_admitted_is_refused(admitted, tmp_path):
    other = admitted["other"]
    admitted["other_server"].hits.clear()
    with pytest.raises(Refused, match=rf"{other.split('//')[1]} is a loopback address"):
        _download(f"{admitted['base']}/go?to={other}/pasta.mp4", tmp_path)
    assert admitted["other_server"].hits == []


def test_a_redirect_to_another_scheme_is_refused(admitted, tmp_path):
    port = admitted["other"].rsplit(":", 1)[1]
    with pytest.raises(Refused, match=r"non-http\(s\)"):
        _download(f"{admitted['base']}/go?to=ftp://127.0.0.1:{port}/x", tmp_path)
    assert admitted["other_server"].hits == []


def test_a_link_not_admitted_fails_the_job_once_without_retry(env, site, capsys, monkeypatch):
    monkeypatch.delenv("SVP_ALLOWED_HOSTS")
    url = f"{site['base']}/pasta.mp4"  # loopback, and not admitted
    assert svp(["process", url, "--tag", "cooking"]) == 1
    assert "127.0.0.1:" in capsys.readouterr().err
    assert svp(["jobs", "--failed", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert re.search(r"refused: 127\.0\.0\.1:\d+ is a loopback address", job["error"])
    assert job["stages"]["downloader"]["attempts"] == 1


@pytest.mark.parametrize(
    ("message", "expected", "reason"),
    [
        (
            "ERROR: [TikTok] 7301: Your IP address is blocked from accessing this post",
            TransientError,
            r"rate-limiting or blocking this server's IP",
        ),
        (
            "ERROR: [youtube] abc: Sign in to confirm you’re not a bot. Use --cookies-from-browser"
            " or --cookies for the authentication.",
            TransientError,
            r"blocking this server's IP",
        ),
        (
            "ERROR: [Instagram] C1a: Requested content is not available, rate-limit reached or "
            "login required. Use --cookies",
            PermanentError,
            r"requires a login: set SVP_COOKIES",
        ),
        (
            "ERROR: [Instagram] C1a: Instagram sent an empty media response. Check if this post is "
            "accessible in your browser without being logged-in. If it is not, then use --cookies",
            PermanentError,
            r"requires a login",
        ),
        (
            "ERROR: [TikTok] 73: This post may not be comfortable for some audiences. Log in for "
            "access",
            PermanentError,
            r"requires a login",
        ),
        (
            "ERROR: [youtube] abc: Private video. Sign in if you've been granted access",
            PermanentError,
            r"requires a login|private",
        ),
        ("ERROR: [TikTok] 73: This video is private", PermanentError, r"the video is private"),
        (
            "ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader",
            PermanentError,
            r"not found \(removed",
        ),
        (
            "ERROR: [generic] x: Unable to download webpage: HTTP Error 429: Too Many Requests",
            TransientError,
            r"rate-limiting",
        ),
        (
            "ERROR: [generic] x: Unable to download webpage: HTTP Error 503: Service Unavailable",
            TransientError,
            r"unreachable or failing|not found",
        ),
        (
            "ERROR: [generic] x: Unable to download webpage: <urlopen error timed out>",
            TransientError,
            r"unreachable",
        ),
        (
            "ERROR: Unsupported URL: https://www.tiktok.com/music/x",
            PermanentError,
            r"not supported",
        ),
    ],
)
def test_yt_dlp_messages_become_clear_reasons(settings, message, expected, reason):
    error = classify({"message": message}, settings)
    assert type(error) is expected
    assert re.search(reason, error.reason)


def test_the_503_status_is_transient_even_when_the_text_says_unavailable(settings):
    error = classify({"message": "HTTP Error 503: Service Unavailable", "status": 503}, settings)
    assert isinstance(error, TransientError)


# -- posts: video with subtitles, images --------------------------------------------------------
def test_a_video_with_platform_subtitles_keeps_them_and_the_caption(admitted, tmp_path):
    fetched = _download(f"{admitted['base']}/withsubs.html", tmp_path)
    assert fetched.kind == "video" and len(fetched.videos) == 1
    assert fetched.metadata["description"] == "Quick pasta #dinner"
    assert "boil the pasta" in fetched.metadata["subtitles"]["en"]


def test_a_page_of_images_is_an_image_post(admitted, tmp_path):
    fetched = _download(f"{admitted['base']}/post.html", tmp_path)
    assert fetched.kind == "images" and not fetched.videos
    assert len(fetched.images) == 3  # the repeated image is kept once
    assert fetched.metadata["description"] == "My lemon tart recipe #baking #dessert"
    assert fetched.metadata["uploader"] == "Chef Ana"


def test_gallery_dl_runs_behind_the_guard(admitted, tmp_path):
    """gallery-dl (TikTok photo posts, Instagram) in its child process, through the proxy."""
    from svp.media.download import _gallery
    from svp.media.egress import EgressProxy
    from svp.media.urlguard import Policy

    settings = load_settings(_env(), dotenv=None)
    with EgressProxy(Policy.from_entries(settings.allowed_hosts)) as proxy:
        fetched = _gallery(f"{admitted['base']}/slide2.png", tmp_path / "g", settings, proxy)
    assert [p.suffix for p in fetched.images] == [".png"]
    assert fetched.metadata["webpage_url"].endswith("/slide2.png")


def test_an_image_post_is_read_and_summarized_without_transcription(admitted, capsys):
    from svp.summary.targets import bundled_schemas, normalize_schema
    from svp.wiring import build_runtime
    from tests.pipeline_helpers import drain, enqueue, job

    runtime = build_runtime(load_settings(dotenv=None))
    target = {"tag": "cooking", "schema": normalize_schema(bundled_schemas()["cooking"])}
    enqueue(runtime, "img", {"url": f"{admitted['base']}/post.html", "tag": "cooking"}, target)
    drain(runtime)
    done = job(runtime, "img")
    assert done["status"] == "done", done.get("error")
    stages = done["stages"]
    downloader = stages["downloader"]["output"]
    assert downloader["kind"] == "images" and downloader["images"] == 3
    assert "media" not in downloader["artifacts"]
    transcriber = stages["transcriber"]["output"]
    assert transcriber["source"] == "none" and transcriber["chars"] == 0
    ocr = json.loads(runtime.blobs.get_bytes(stages["ocr"]["output"]["artifacts"]["ocr"]))
    texts = [line["text"] for line in ocr["lines"]]
    for expected in IMAGE_TEXTS:
        assert any(expected.lower() in t.lower() for t in texts), texts
    assert [line["image"] for line in ocr["lines"]][:3] == [0, 1, 2]
    assert all(line["seconds"] is None for line in ocr["lines"])
    page = runtime.blobs.get_bytes(done["result"]["artifacts"]["markdown"]).decode()
    assert "Lemon tart" in page or "lemon tart" in page.lower()


@pytest.mark.parametrize("use_subtitles", ["true", "false"])
def test_platform_subtitles_are_preferred_to_speech_recognition(
    admitted, monkeypatch, capsys, use_subtitles
):
    monkeypatch.setenv("SVP_USE_SUBTITLES", use_subtitles)
    assert svp(["process", f"{admitted['base']}/withsubs.html", "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert svp(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    output = job["stages"]["transcriber"]["output"]
    if use_subtitles == "true":
        assert output["source"] == "subtitles" and output["engine"] == "platform"
        assert "Subtitles say: boil the pasta." in page
    else:
        assert output["source"] == "speech" and output["engine"] == "faster-whisper tiny.en"
        assert "Subtitles say" not in page
    assert output["language"] == "en"


# -- what yt-dlp returns for posts that cannot be served offline (shapes from its extractors) ---
CAROUSEL = {  # Instagram: a playlist whose image entries have no formats
    "_type": "playlist",
    "id": "C1a",
    "title": "Post by chef",
    "description": "Three ways with lemons #citrus",
    "channel": "chef",
    "entries": [
        {
            "id": "1",
            "formats": [],
            "thumbnails": [
                {"url": "https://scontent.cdninstagram.com/small.jpg", "width": 320},
                {"url": "https://scontent.cdninstagram.com/big.jpg", "width": 1080},
            ],
        },
        {
            "id": "2",
            "formats": [{"url": "https://scontent.cdninstagram.com/v.mp4"}],
            "duration": 12.0,
            "thumbnails": [{"url": "https://scontent.cdninstagram.com/t.jpg"}],
        },
    ],
}


def test_a_carousel_keeps_its_images_and_its_videos():
    from svp.media.ytdlp_worker import _entries, _image_url, _is_image

    entries = _entries(CAROUSEL)
    assert [_is_image(e) for e in entries] == [True, False]
    assert _image_url(entries[0]) == "https://scontent.cdninstagram.com/big.jpg"


@pytest.mark.parametrize(
    ("entry", "chosen"),
    [
        ({"language": "es", "subtitles": {"en": [{}], "es": [{}]}}, "es"),
        ({"language": "en", "automatic_captions": {"en-orig": [{}], "fr": [{}]}}, "en-orig"),
        ({"language": "de", "automatic_captions": {"fr": [{}]}}, None),  # only a translation
        ({"subtitles": {"eng-US": [{}]}}, "eng-US"),  # TikTok: one track, no language given
        ({"subtitles": {"spa-ES": [{}], "eng-US": [{}]}}, "spa-ES"),  # the original comes first
        ({}, None),
    ],
)
def test_subtitles_in_the_video_s_own_language_are_chosen(entry, chosen):
    from svp.media.ytdlp_worker import choose_subtitles

    assert choose_subtitles(entry) == chosen


def test_gallery_dl_metadata_is_read_in_yt_dlp_s_terms():
    from svp.media.download import gallery_metadata

    tiktok = {
        "id": 73,
        "desc": "Lemon bars in 3 steps #baking",
        "date": "2026-03-01 10:00:00",
        "author": {"uniqueId": "chefana", "nickname": "Chef Ana"},
        "category": "tiktok",
    }
    metadata = gallery_metadata(tiktok, "https://www.tiktok.com/@chefana/photo/73")
    assert metadata["description"] == "Lemon bars in 3 steps #baking"
    assert metadata["uploader"] == "Chef Ana" and metadata["upload_date"] == "20260301"
    assert metadata["webpage_url"] == "https://www.tiktok.com/@chefana/photo/73"
