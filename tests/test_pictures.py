"""Every page has a picture: the platform's thumbnail, else the sharpest frame without overlay
text, and a photo post's images; in Notion uploaded (cover and image block), locally beside
the Markdown page.

Real parts: ffmpeg-made clips, OpenCV, RapidOCR to check what the chosen picture shows, yt-dlp
against a loopback server, notion-client against the fake Notion's File Upload API.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from svp.cli import main as svp
from svp.config import Settings, load_settings
from svp.media.ocr import read_frames
from svp.media.picture import FramePicker, from_file
from svp.media.screen import ScreenText
from svp.notion.gateway import NotionGateway
from svp.runtime import jobs
from svp.wiring import build_runtime
from tests.clipgen import COUNTER_TIMECODE, Overlay, make_overlay_clip
from tests.fakes._notion_schema import plain_text
from tests.fakes.notion import FakeNotion, plain
from tests.test_notion import deliver_to_writer
from tests.test_page_fields import ready

pytestmark = pytest.mark.slow

# Overlays nearly all along; the only stretch without one is 3.0-4.2 s.
OVERLAYS = [
    Overlay(0.0, 3.0, "Lemon tart", y="h*0.3", size=12),
    Overlay(4.2, 6.0, "MINT 14", size=14),
    Overlay(6.0, 8.0, "Serve warm", y="h*0.62", size=14),
]
WORDS = {"lemon", "tart", "mint", "serve", "warm"}


@pytest.fixture(scope="module")
def overlaid_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("picture") / "overlaid.mp4"
    return make_overlay_clip(
        out, OVERLAYS, duration=8.0, size=(540, 960), counter=COUNTER_TIMECODE, watermark="@chefmia"
    )


def _words_on(jpeg: bytes) -> set[str]:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    ((_, lines),) = read_frames([(0.0, image)], Settings(ocr_engine="rapidocr"))
    return {word.lower() for line in lines for word in re.findall(r"[A-Za-z]+", line.text)}


def test_the_chosen_frame_shows_no_overlay_text(overlaid_clip):
    picker = FramePicker()
    screen = ScreenText(Settings(ocr_engine="rapidocr"), picker=picker)
    screen.read_video(overlaid_clip)
    chosen = picker.chosen
    assert chosen is not None and not chosen.has_text
    assert 3.0 <= chosen.seconds < 4.2  # the only stretch without an overlay
    seen = _words_on(chosen.jpeg)
    assert not seen & WORDS, seen
    assert "chefmia" in seen  # the watermark is on every frame: it does not rule one out
    # Overlay text was read as usual, with the picker looking at every frame.
    assert [line.text for line in screen.lines()] == [o.text for o in OVERLAYS]


def test_a_picture_is_encoded_again_without_the_metadata_it_came_with(tmp_path):
    image = np.full((300, 400, 3), (40, 120, 200), np.uint8)
    cv2.putText(image, "photo", (60, 160), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    # A phone's EXIF segment (APP1) with a position in it, right after the start marker.
    exif = b"Exif\0\0MM\0*\0\0\0\x08GPS 48.8584 N 2.2945 E"
    with_exif = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + jpeg[2:]
    (tmp_path / "phone.jpg").write_bytes(with_exif)

    again = from_file(tmp_path / "phone.jpg")

    assert again is not None and again.startswith(b"\xff\xd8")
    assert b"Exif" not in again and b"48.8584" not in again
    decoded = cv2.imdecode(np.frombuffer(again, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (300, 400, 3)
    (tmp_path / "icon.png").write_bytes(cv2.imencode(".png", image[:20, :20])[1].tobytes())
    assert from_file(tmp_path / "icon.png") is None  # a tracking pixel or an icon
    (tmp_path / "page.html").write_text("<html>not a picture</html>")
    assert from_file(tmp_path / "page.html") is None


def test_a_large_picture_is_scaled_to_the_covers_width(tmp_path):
    big = np.random.default_rng(7).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    (tmp_path / "big.png").write_bytes(cv2.imencode(".png", big)[1].tobytes())
    again = from_file(tmp_path / "big.png")
    assert again is not None
    decoded = cv2.imdecode(np.frombuffer(again, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (1200, 1600, 3)
    assert len(again) < 5 * 1024 * 1024  # Notion's per-file limit on a free workspace


# -- the page, locally ---------------------------------------------------------------------------
def _page_and_pictures(capsys) -> tuple[str, list[Path]]:
    """The Markdown page `svp process` wrote (its path is on stderr) and the pictures beside it."""
    err = capsys.readouterr().err
    found = re.search(r"Page: file://(\S+\.md)", err)
    assert found, err
    page = Path(found.group(1))
    return page.read_text(), sorted(page.parent.glob(f"{page.stem}-*.jpg"))


def test_svp_process_shows_the_chosen_frame_beside_the_page(env, overlaid_clip, capsys):
    assert svp(["process", str(overlaid_clip), "--tag", "cooking"]) == 0
    text, files = _page_and_pictures(capsys)
    (picture,) = files
    assert f"![Frame at 0:03]({picture.name})" in text.splitlines()[:6]
    assert not _words_on(picture.read_bytes()) & WORDS


# A post page whose video has a poster (yt-dlp's generic extractor reports it as the thumbnail)
# and a page of photos (a photo post on an admitted host).
POSTER_COLOUR = (30, 140, 230)  # BGR: an orange no frame of the clip has


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("site")
    shutil.copy(clips / "pasta.mp4", folder / "pasta.mp4")
    poster = np.full((360, 640, 3), POSTER_COLOUR, np.uint8)
    (folder / "poster.png").write_bytes(cv2.imencode(".png", poster)[1].tobytes())
    (folder / "post.html").write_text(
        '<html><head><title>Pasta night</title></head><body><video controls src="pasta.mp4" '
        'poster="poster.png"></video></body></html>'
    )
    for i, colour in enumerate([(200, 60, 60), (60, 200, 60), (60, 60, 200)]):
        photo = np.full((480, 360, 3), colour, np.uint8)
        cv2.putText(photo, f"step {i + 1}", (40, 240), cv2.FONT_HERSHEY_SIMPLEX, 2, (255,) * 3, 4)
        (folder / f"photo{i + 1}.jpg").write_bytes(cv2.imencode(".jpg", photo)[1].tobytes())
    (folder / "photos.html").write_text(
        '<html><head><meta property="og:title" content="Tart in three photos"></head><body>'
        + "".join(f'<img src="photo{i + 1}.jpg">' for i in range(3))
        + "</body></html>"
    )
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _mean_colour(path: Path) -> tuple[int, ...]:
    image = cv2.imread(str(path))
    return tuple(round(float(v)) for v in image.reshape(-1, 3).mean(axis=0))


def test_the_platform_thumbnail_is_the_picture_when_there_is_one(env, site, capsys):
    assert svp(["process", f"{site}/post.html", "--tag", "cooking"]) == 0
    text, files = _page_and_pictures(capsys)
    (picture,) = files
    assert f"![Thumbnail]({picture.name})" in text
    assert cv2.imread(str(picture)).shape == (360, 640, 3)
    assert all(abs(a - b) <= 3 for a, b in zip(_mean_colour(picture), POSTER_COLOUR, strict=True))


def test_a_photo_posts_images_are_all_on_its_page(env, site, capsys):
    assert svp(["process", f"{site}/photos.html", "--tag", "cooking"]) == 0
    text, files = _page_and_pictures(capsys)
    assert len(files) == 3
    head, _, more = text.partition("## More images")
    assert f"![Image 1 of 3]({files[0].name})" in head
    assert f"![Image 2 of 3]({files[1].name})" in more
    assert f"![Image 3 of 3]({files[2].name})" in more
    blue_green_red = [_mean_colour(path) for path in files]
    assert [max(range(3), key=colour.__getitem__) for colour in blue_green_red] == [0, 1, 2]


# -- the page, in Notion -----------------------------------------------------------------------
THUMBNAIL_URL = "https://p16-sign.tiktokcdn.com/obj/cover.jpeg"


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    return cv2.imencode(".jpg", np.full((90, 160, 3), colour, np.uint8))[1].tobytes()


def _written(notion: FakeNotion, pictures: list[tuple[bytes, str]], thumbnail_url: str = ""):
    """Deliver to the writer a job whose OCR stage chose these (JPEG, caption) pictures;
    return the one page it wrote."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion.add_database("Recipes", {"name": "title"})
    ready(runtime, "p1", source, [{"name": "Lemon tart"}], review=False)
    job = runtime.state.get(jobs.JOBS, "p1")
    shown = []
    for index, (data, caption) in enumerate(pictures):
        uri = runtime.blobs.put_bytes(f"jobs/p1/picture-{index}.jpg", data)
        shown.append({"uri": uri, "source": "frame", "caption": caption})
    job["stages"]["ocr"]["output"] = {"pictures": shown}
    job["stages"]["downloader"]["output"] = {"thumbnail_url": thumbnail_url}
    runtime.state.put(jobs.JOBS, "p1", job)
    assert deliver_to_writer(runtime, "p1").detail == "done"
    (page,) = notion.pages_in(source)
    return page


def test_a_notion_page_has_its_picture_uploaded_as_cover_and_image(notion_env):
    frame = _jpeg((40, 120, 200))
    page = _written(notion_env, [(frame, "Frame at 0:03")])
    cover = notion_env.cover_of(page["id"])
    assert cover["type"] == "file_upload"
    assert (cover["bytes"], cover["content_type"]) == (frame, "image/jpeg")
    (image,) = notion_env.images_of(page["id"])
    assert (image["id"], image["caption"]) == (cover["id"], "Frame at 0:03")
    assert notion_env.uploads[cover["id"]].expires_at is None  # attached: it stays


def test_a_photo_posts_first_image_is_the_cover_and_the_rest_are_folded(notion_env):
    photos = [_jpeg(colour) for colour in ((200, 60, 60), (60, 200, 60), (60, 60, 200))]
    captions = [f"Image {i} of 3" for i in (1, 2, 3)]
    page = _written(notion_env, list(zip(photos, captions, strict=True)))
    assert notion_env.cover_of(page["id"])["bytes"] == photos[0]
    images = notion_env.images_of(page["id"])
    assert [(i["bytes"], i["caption"]) for i in images] == list(zip(photos, captions, strict=True))
    top = notion_env.blocks_of(page["id"])
    toggles = {plain_text(b["toggle"]["rich_text"]): b for b in top if b["type"] == "toggle"}
    toggle = toggles["More images (2)"]
    assert [b["type"] for b in notion_env.blocks_of(toggle["id"])] == ["image", "image"]


@pytest.mark.parametrize("thumbnail_url", [THUMBNAIL_URL, ""])
def test_an_upload_notion_refuses_costs_the_picture_not_the_page(notion_env, thumbnail_url):
    notion_env.max_file_bytes = 100  # every picture is too large for this workspace
    page = _written(notion_env, [(_jpeg((9, 9, 9)), "Frame at 0:01")], thumbnail_url)
    if thumbnail_url:
        assert notion_env.cover_of(page["id"]) == {"type": "external", "url": THUMBNAIL_URL}
        assert [i["url"] for i in notion_env.images_of(page["id"])] == [THUMBNAIL_URL]
    else:
        assert notion_env.cover_of(page["id"]) is None
        assert notion_env.images_of(page["id"]) == []
    assert plain(page, "name") == "Lemon tart"


def test_an_upload_that_expires_before_the_page_is_made_leaves_the_page_without_it(
    notion_env, monkeypatch
):
    upload = NotionGateway.upload

    def upload_then_an_hour_passes(self, *args, **kwargs):
        upload_id = upload(self, *args, **kwargs)
        notion_env.expire_upload(upload_id)
        return upload_id

    monkeypatch.setattr(NotionGateway, "upload", upload_then_an_hour_passes)
    page = _written(notion_env, [(_jpeg((9, 9, 9)), "Frame at 0:01")])
    assert notion_env.cover_of(page["id"]) is None
    assert notion_env.images_of(page["id"]) == []
    assert plain(page, "name") == "Lemon tart"
