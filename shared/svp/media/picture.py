"""The page's picture: the platform's thumbnail, else the sharpest frame that shows no overlay
text; for a photo post, its images.

Every picture that reaches a page is decoded and encoded again here (`encoded`): a JPEG at most
MAX_SIDE px on its longest side, without the metadata the file came with (a phone photo's GPS
position) and well under Notion's 5 MiB per-file limit of free workspaces. Whatever a stranger
served is never handed on as it came.

Choosing a frame (`FramePicker`)
--------------------------------
The OCR stage looks at the video every SVP_OCR_INTERVAL seconds and computes, for each look,
the edges that stand still there (svp.media.frames.TextChanges: overlay text is pixel-still
while footage moves). The picker sees every look:
- a frame too dark, too bright or too flat (a fade, a blank card) is left out, unless all are
  (a video shot at night);
- its text is the still edges inside text-like regions, of this look and the one before (a
  still edge must be on the next look too, so a line about to go is seen on the look before);
- marks are not content: edges that stood still on most looks (a watermark, a handle) and
  small or edge-of-frame text regions that stood in one place on most looks (a counter whose
  digits change) do not count; a place where overlay after overlay appears still does;
- the looks with the least text (within TEXT_PIXELS of the least) are clear; each stretch of
  clear looks offers its sharpest frame (variance of the Laplacian of the grey frame);
- the offers are read, sharpest first, by the OCR engine (at most VERIFY): the first on
  which it reads nothing but the video's marks is the picture. Edges are a cheap, imperfect
  judge (a line of text touching still scenery joins it and stops looking like text); the
  engine is the one that decides what the page's text is, so it decides here too (with
  Cloud Vision each read is billed: the stage counts them as `picture_checks`). When every
  offer shows text, the first is taken, text and all.
Marks are known only once the whole video was looked at, so each look keeps its text edges
(bits of the small grey map: a few MB for a long video) and the choice is made at the end,
when the offered frames are decoded once more at full size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svp.media.ocr import where_marks_sit

if TYPE_CHECKING:
    import numpy as np

    from svp.media.frames import Sample, TextChanges

MAX_SIDE = 1600  # px: Notion shows a cover at most about 1500 px wide
QUALITY = 85
MIN_SIDE = 48  # px: smaller is an icon or a tracking pixel, not a picture
DARK, BRIGHT = 35.0, 225.0  # mean grey outside this range: a fade or a blank card
FLAT = 15.0  # grey standard deviation below this: nothing to see
MARK_LOOKS = 0.8  # a place inside text regions on this share of the looks holds a mark
TEXT_PIXELS = 60  # text edges (on maps 480 px tall) that count: about three small letters
VERIFY = 4  # frames the OCR engine reads at most to find one without text


def encoded(image: np.ndarray) -> bytes:
    """`image` (BGR) as a JPEG at most MAX_SIDE px on its longest side."""
    import cv2

    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise ValueError("the picture could not be encoded")
    return data.tobytes()


def from_file(path: Path) -> bytes | None:
    """An image file (a thumbnail, a photo) as the page's JPEG; None when it is no picture."""
    from svp.media.images import read_image

    image = read_image(path)
    if image is None or min(image.shape[:2]) < MIN_SIDE:
        return None
    return encoded(image)


@dataclass
class _Look:
    seconds: float
    sharpness: float
    exposed: bool  # neither too dark, too bright nor flat
    text_edges: np.ndarray  # packed bits: still edges inside text regions


@dataclass
class Picked:
    """The frame chosen for the page: JPEG bytes, when it is shown (in the post), and whether
    overlay text is on it (every frame of the video had some)."""

    jpeg: bytes
    seconds: float
    has_text: bool


class FramePicker:
    """Chooses the page's frame among the looks at one or more videos (see the module doc)."""

    def __init__(self) -> None:
        self._looks: list[_Look] = []
        # Per pixel: looks with a still edge there; looks inside a small or edge text region.
        self._still_looks: np.ndarray | None = None
        self._mark_looks: np.ndarray | None = None
        self._seen = 0
        self._before: tuple[np.ndarray, np.ndarray] | None = None  # (still, regions) of the last
        self._chosen: Picked | None = None

    def look(self, sample: Sample, still: np.ndarray, changes: TextChanges) -> None:
        """One look: `still` is its still-edge map, `changes` the detector that made it."""
        import cv2
        import numpy as np

        regions = np.zeros(still.shape, dtype=bool)
        mark_like = np.zeros(still.shape, dtype=bool)
        for x, y, w, h in changes.regions(still):
            regions[y : y + h, x : x + w] = True
            if _mark_like((x, y, w, h), still.shape):
                mark_like[y : y + h, x : x + w] = True
        if self._still_looks is None or self._mark_looks is None:
            self._still_looks = np.zeros(still.shape, dtype=np.uint16)
            self._mark_looks = np.zeros(still.shape, dtype=np.uint16)
        self._still_looks += still > 0
        self._mark_looks += mark_like
        self._seen += 1
        before, self._before = self._before, (still, regions)
        small = sample.small
        if small is None:
            return
        mean, spread = cv2.meanStdDev(small)
        exposed = DARK <= float(mean[0, 0]) <= BRIGHT and float(spread[0, 0]) >= FLAT
        edges = still > 0
        if before is not None:
            edges, regions = edges | (before[0] > 0), regions | before[1]
        sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
        self._looks.append(_Look(sample.seconds, sharpness, exposed, np.packbits(edges & regions)))

    def finish(
        self,
        video: Path,
        offset: float = 0.0,
        shows_text: Callable[[np.ndarray], bool] | None = None,
    ) -> None:
        """The end of one video (`offset` s into the post): its frame is chosen and decoded;
        `shows_text(frame)` says whether the OCR engine reads content on it. The first video
        with a frame without text gives the picture."""
        from svp.media.frames import frame_at

        looks, self._looks, self._before = self._looks, [], None
        looks = [look for look in looks if look.exposed] or looks
        marks = self._marks()
        if not looks or marks is None or (self._chosen and not self._chosen.has_text):
            return
        first: Picked | None = None
        for look in _offers(looks, marks)[:VERIFY]:
            frame = frame_at(video, look.seconds)
            if frame is None:
                continue
            has_text = shows_text is not None and shows_text(frame)
            picked = Picked(encoded(frame), round(look.seconds + offset, 2), has_text)
            if not has_text:
                self._chosen = picked
                return
            first = first or picked
        self._chosen = self._chosen or first

    def _marks(self) -> np.ndarray | None:
        """Where the video's marks are (see the module doc); the counts start again."""
        still, regions, seen = self._still_looks, self._mark_looks, self._seen
        self._still_looks, self._mark_looks, self._seen = None, None, 0
        if still is None or regions is None:
            return None
        most = max(2, MARK_LOOKS * seen)
        return (still >= most) | (regions >= most)

    @property
    def chosen(self) -> Picked | None:
        return self._chosen


def _mark_like(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """A region (pixels) small or at an edge of the frame, where marks sit."""
    x, y, w, h = box
    height, width = shape[:2]
    return where_marks_sit((x / width, y / height, w / width, h / height))


def _offers(looks: list[_Look], marks: np.ndarray) -> list[_Look]:
    """The sharpest look of each stretch of clear looks (within TEXT_PIXELS of the least
    text), sharpest first."""
    texts = [_text_pixels(look.text_edges, marks, marks.shape) for look in looks]
    clear = min(texts) + TEXT_PIXELS
    offers: list[_Look] = []
    stretch: list[_Look] = []
    for text, look in [*zip(texts, looks, strict=True), (clear + 1, None)]:
        if look is not None and text <= clear:
            stretch.append(look)
        elif stretch:
            offers.append(max(stretch, key=lambda each: each.sharpness))
            stretch = []
    return sorted(offers, key=lambda offer: -offer.sharpness)


def _text_pixels(packed: np.ndarray, marks: np.ndarray, shape: tuple[int, ...]) -> int:
    import numpy as np

    edges = np.unpackbits(packed, count=marks.size).reshape(shape).astype(bool)
    return int(np.count_nonzero(edges & ~marks))


def frame_caption(seconds: float) -> str:
    """ "Frame at 0:12": the caption of a frame shown on the page."""
    whole = int(seconds)
    return f"Frame at {whole // 60}:{whole % 60:02d}"
