"""On-screen text: OCR engines, and the merge of lines across frames in order of first appearance.

Engines (SVP_OCR): RapidOCR (the default, embedded: PP-OCR detection and recognition models
run by onnxruntime, shipped inside the `rapidocr` wheel, so nothing is downloaded at run time),
Tesseract (local binary) and Cloud Vision TEXT_DETECTION, which takes up to 16 images and
10 MB per `batch_annotate_images` request: frames are JPEG-encoded at 1024 px as they arrive
and sent in batches cut by count and bytes (never more than one batch held); transient
failures are retried within a bounded budget, and what still fails is named, never the whole
post's text lost (see the Cloud Vision section). Local engines give each line its place on
the frame (svp.media.screen tells lines that stay in place apart). Lines seen again in later
frames, or seen with OCR noise ("Spaghettl" for "Spaghetti"), fold into the first one; the
spelling read most often wins.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from svp.config import Settings
from svp.media import spacing

if TYPE_CHECKING:
    import numpy as np

VISION_BATCH = 16
FOLD_RATIO = 0.85  # lines at least this similar (after normalizing) are one line

Box = tuple[float, float, float, float]  # left, top, width, height: shares of the frame's size
MARK_HEIGHT = 0.025  # a line this small (share of the frame's height) is a mark, not a title
EDGE_BAND = (0.125, 1 / 6)  # top and bottom, left and right: where marks sit


def where_marks_sit(box: Box) -> bool:
    """Small, or at an edge of the frame: where watermarks, handles and counters sit."""
    left, top, width, height = box
    vertical, horizontal = EDGE_BAND
    centre = left + width / 2
    return (
        height <= MARK_HEIGHT
        or top + height <= vertical
        or top >= 1 - vertical
        or centre <= horizontal
        or centre >= 1 - horizontal
    )


@dataclass(frozen=True)
class Seen:
    """A line of text read on one frame, and where (None when the engine does not say)."""

    text: str
    box: Box | None = None


@dataclass(frozen=True)
class TextLine:
    text: str
    seconds: float | None
    image: int | None = None


def _prepare(frame: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    # Tesseract reads small overlay text far better at ~2x on short videos' 720p frames.
    if gray.shape[0] < 1400:
        gray = cv2.resize(gray, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    return gray


MIN_WORD_CONFIDENCE = 50  # Tesseract 0-100: most textures read as letters score lower


def tesseract_lines(frame: np.ndarray) -> list[Seen]:
    """Lines of text, from the words Tesseract is confident about (sparse-text mode reads
    letters into every texture of a busy background, at low confidence). Words are put back
    into lines by position: sparse mode often splits one overlay line into several blocks."""
    import pytesseract

    prepared = _prepare(frame)
    data = pytesseract.image_to_data(
        prepared, config="--psm 11", output_type=pytesseract.Output.DICT
    )
    words = [
        (data["left"][i], data["top"][i], data["width"][i], data["height"][i], text.strip())
        for i, text in enumerate(data["text"])
        if text.strip() and float(data["conf"][i]) >= MIN_WORD_CONFIDENCE
    ]
    height, width = prepared.shape[:2]
    return [Seen(text, _share(box, width, height)) for text, box in _rows(words)]


def _share(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    left, top, w, h = box
    return (left / width, top / height, w / width, h / height)


Word = tuple[float, float, float, float, str]  # left, top, width, height, text


def _rows(words: list[Word]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(left, top, width, height, text) words as lines with their boxes: same row when they
    overlap vertically by half a word's height, same line when the gap between them is under
    1.5 word heights."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w[1], w[0])):
        _, top, _, height, _ = word
        for row in rows:
            row_top = min(w[1] for w in row)
            row_bottom = max(w[1] + w[3] for w in row)
            overlap = min(row_bottom, top + height) - max(row_top, top)
            if overlap >= 0.5 * min(height, row_bottom - row_top):
                row.append(word)
                break
        else:
            rows.append([word])
    lines: list[tuple[str, tuple[float, float, float, float]]] = []

    def close(current: list[Word]) -> None:
        left = min(w[0] for w in current)
        top = min(w[1] for w in current)
        right = max(w[0] + w[2] for w in current)
        bottom = max(w[1] + w[3] for w in current)
        lines.append((" ".join(w[4] for w in current), (left, top, right - left, bottom - top)))

    for row in rows:
        row.sort(key=lambda w: w[0])
        height = max(w[3] for w in row)
        current = [row[0]]
        for word in row[1:]:
            previous = current[-1]
            if word[0] - (previous[0] + previous[2]) > 1.5 * height:
                close(current)
                current = []
            current.append(word)
        close(current)
    return lines


def _at_reading_size(frame: np.ndarray) -> np.ndarray:
    """The frame READING_SIDE px on its short side (720x1280 for a phone video), the size the
    engine was measured at (bench/ocr_quality.py): smaller frames lose spaces between words
    ("Servewarm"), larger ones only cost time."""
    import cv2

    scale = READING_SIDE / min(frame.shape[:2])
    if abs(scale - 1) < 0.05:
        return frame
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=method)


READING_SIDE = 720


def _confident(text: str, chars: Any) -> str:
    """`text` without the characters read with low confidence: the multilingual recognizer
    sometimes ends a Latin line with CJK characters made of the box's edge ("FLOUR4示品验")."""
    scores = [float(c[1]) for c in chars or () if str(c[0]).strip()]
    if len(scores) != len(text.replace(" ", "")):
        return text  # the characters do not line up with the text: keep it as read
    kept, scored = [], iter(scores)
    for char in text:
        if char == " " or next(scored) >= CHAR_MIN_SCORE:
            kept.append(char)
    return re.sub(r"\s+", " ", "".join(kept)).strip()


CHAR_MIN_SCORE = 0.5  # a character read with less confidence is noise


def _respaced(text: str, frame: np.ndarray, corners: Any) -> str:
    """`text` with the spaces the recognizer dropped put back. In small text it sometimes reads
    one long word ("Chopfinely" for "Chop finely"); the detector, given the line twice as
    large, finds its words one by one. Their reading is taken only when it has the very same
    characters: spacing is all that may change."""
    import cv2

    xs = [int(p[0]) for p in corners]
    ys = [int(p[1]) for p in corners]
    margin = max(4, (max(ys) - min(ys)) // 3)
    top, bottom = max(0, min(ys) - margin), max(ys) + margin
    left, right = max(0, min(xs) - margin), max(xs) + margin
    crop = frame[top:bottom, left:right]
    if crop.size == 0:
        return text
    larger = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    result = _rapidocr()(larger)
    if result.txts is None or result.boxes is None:
        return text
    # The line's own words: centred within its box, not bits of footage in the margin.
    inside_x = (2 * (min(xs) - left), 2 * (max(xs) - left))
    inside_y = (2 * (min(ys) - top), 2 * (max(ys) - top))
    words = []
    for word, box in zip(result.txts, result.boxes, strict=True):
        x = sum(float(p[0]) for p in box) / len(box)
        y = sum(float(p[1]) for p in box) / len(box)
        if word.strip() and inside_x[0] <= x <= inside_x[1] and inside_y[0] <= y <= inside_y[1]:
            words.append((x, word.strip()))
    again = " ".join(word for _, word in sorted(words))
    return again if again.replace(" ", "") == text.replace(" ", "") else text


LONG_WORD = 8  # letters: a "word" this long in a line without spaces is checked for lost spaces


def _maybe_run_together(text: str) -> bool:
    """A line of one long word, or of letters running into digits ("MINT44"), may have lost
    a space."""
    if " " in text:
        return False
    letters = len(re.findall(r"[^\W\d_]", text))
    return letters >= LONG_WORD or (letters >= 2 and bool(re.search(r"[^\W\d_]\d", text)))


# -- RapidOCR ----------------------------------------------------------------------------------
_rapid_lock = threading.Lock()
_rapid: list[Any] = []  # the engine, made once per process (loading the models takes ~1 s)
DETECT_SIDE = 960  # px: about twice as fast as 1280 on 720x1280 frames, same lines found
RAPID_MIN_SCORE = 0.6  # recognition confidence 0-1 below which a line is texture, not text
# Spaces measured on the frame and stray edge characters dropped (svp.media.spacing); off
# only to measure what it changes (bench/ocr_words.py).
WORDS_AS_SHOWN = True


def _rapidocr() -> Any:
    """The RapidOCR engine on the models inside its wheel, named by path: with a path given it
    never downloads anything (its default is to fetch a missing model from the network)."""
    with _rapid_lock:
        if not _rapid:
            from pathlib import Path

            import rapidocr

            models = Path(rapidocr.__file__).parent / "models"
            paths = {
                "Det": models / "PP-OCRv6_det_small.onnx",
                "Rec": models / "PP-OCRv6_rec_small.onnx",
                "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
            }
            missing = [str(p) for p in paths.values() if not p.is_file()]
            if missing:
                raise RuntimeError(f"RapidOCR's bundled models are missing: {', '.join(missing)}")
            params: dict[str, Any] = {f"{task}.model_path": str(p) for task, p in paths.items()}
            params.update({"Global.log_level": "error", "Global.use_cls": False})
            # onnxruntime's default counts the host's cores, not the ones this process may use:
            # on a 2-core container of a large host its threads fight and a frame takes 5x longer.
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = max(1, threads)
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
            # Text is found on the frame at most DETECT_SIDE px on its long side (the default
            # scales a 720x1280 frame up, and finding takes ~90 % of the time); lines are read
            # on the full-size frame.
            params.update({"Det.limit_type": "max", "Det.limit_side_len": DETECT_SIDE})
            _rapid.append(rapidocr.RapidOCR(params=params))
        return _rapid[0]


def rapidocr_lines(frame: np.ndarray) -> list[Seen]:
    """Lines of text with their boxes (overlay text is upright: no orientation model)."""
    frame = _at_reading_size(frame)
    result = _rapidocr()(frame, return_word_box=True, return_single_char_box=True)
    if result.txts is None or result.boxes is None:
        return []
    height, width = frame.shape[:2]
    words: list[Word] = []
    characters = result.word_results or [()] * len(result.txts)
    for text, score, corners, chars in zip(
        result.txts, result.scores, result.boxes, characters, strict=True
    ):
        if WORDS_AS_SHOWN:
            text, chars = spacing.as_shown(text, chars, frame, corners)
        text = _confident(text, chars)
        if not text.strip() or float(score) < RAPID_MIN_SCORE:
            continue
        if _maybe_run_together(text.strip()):
            text = _respaced(text.strip(), frame, corners)
        xs = [float(p[0]) for p in corners]
        ys = [float(p[1]) for p in corners]
        words.append((min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), text.strip()))
    # The detector sometimes cuts one line into pieces: put them back together as Tesseract's.
    return [Seen(text, _share(box, width, height)) for text, box in _rows(words)]


# -- Cloud Vision ----------------------------------------------------------------------------
# Documented limits (https://cloud.google.com/vision/quotas): 16 images per request, a JSON
# request of at most 10 MB (base64 makes an image 4/3 of its size there). Text detection needs
# no more than about 1024x768 (https://cloud.google.com/vision/docs/supported-files: "1024 x
# 768 for ... TEXT_DETECTION"): a phone frame at 1024 px on its long side and quality 80 is
# 0.1-0.3 MB, so batches are cut by count and by bytes.
VISION_LONG_SIDE = 1024
VISION_JPEG_QUALITY = 80
VISION_MAX_IMAGE_BYTES = 1_500_000  # quality steps down until a frame fits (noise, textures)
VISION_REQUEST_BYTES = 8_000_000  # of base64 payload per request: under 10 MB with room
# Retries of 429 / 500 / 503 / 504 and dropped connections: exponential from 0.5 s to 8 s,
# all of a stage run's retries within VISION_RETRY_SECONDS (the client's own default runs up
# to 600 s, past the 540 s function limit); each request waits at most VISION_TIMEOUT_SECONDS.
VISION_RETRY_FIRST = 0.5
VISION_RETRY_SECONDS = 120.0
VISION_TIMEOUT_SECONDS = 60.0
# Per-image error codes (google.rpc.Code) worth asking again: DEADLINE_EXCEEDED, RESOURCE_
# EXHAUSTED, INTERNAL, UNAVAILABLE.
RETRY_CODES = {4, 8, 13, 14}


def encode_jpeg(frame: np.ndarray, longest: int = VISION_LONG_SIDE) -> bytes:
    """A frame as Vision receives it: JPEG, at most `longest` px on its long side and
    VISION_MAX_IMAGE_BYTES."""
    import cv2

    height, width = frame.shape[:2]
    if max(height, width) > longest:
        scale = longest / max(height, width)
        frame = cv2.resize(
            frame, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA
        )
    quality = VISION_JPEG_QUALITY
    while True:
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        if len(jpeg) <= VISION_MAX_IMAGE_BYTES or quality <= 40:
            return jpeg
        quality -= 15


def request_bytes(jpeg: bytes) -> int:
    """What one image adds to a request's JSON: its base64 text and the request around it."""
    return (len(jpeg) + 2) // 3 * 4 + 200


@dataclass
class VisionRun:
    """What one stage run's Vision requests went through: the failures to name (for the
    stage's warning) and the retry budget they share."""

    problems: list[str]
    retry_until: float


_run: contextvars.ContextVar[VisionRun | None] = contextvars.ContextVar("vision_run", default=None)


@contextlib.contextmanager
def vision_run() -> Iterator[list[str]]:
    """Collects the Vision failures of the work inside (the list yielded), sharing one retry
    budget: a stage wraps its OCR in it and names what failed."""
    import time

    token = _run.set(VisionRun([], time.monotonic() + VISION_RETRY_SECONDS))
    try:
        yield _current().problems
    finally:
        _run.reset(token)


def _current() -> VisionRun:
    import time

    run = _run.get()
    if run is None:  # outside a stage run (benchmarks): each call its own budget, unreported
        run = VisionRun([], time.monotonic() + VISION_RETRY_SECONDS)
    return run


def _transient(exc: Exception) -> bool:
    import requests
    from google.api_core import exceptions

    return isinstance(
        exc,
        (
            exceptions.TooManyRequests,
            exceptions.InternalServerError,
            exceptions.BadGateway,
            exceptions.ServiceUnavailable,
            exceptions.GatewayTimeout,
            exceptions.DeadlineExceeded,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ),
    )


def _annotate(images: list[bytes], endpoint: str) -> list[Any]:
    """One batch_annotate_images request, retried while transient and the budget lasts."""
    import time

    from google.api_core import retry as retries
    from google.cloud import vision

    left = _current().retry_until - time.monotonic()
    requests = [
        vision.AnnotateImageRequest(
            image=vision.Image(content=content),
            features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
        )
        for content in images
    ]
    retry = retries.Retry(
        predicate=_transient,
        initial=VISION_RETRY_FIRST,
        maximum=8.0,
        multiplier=2.0,
        timeout=max(0.0, left),
    )
    response = _vision_client(endpoint).batch_annotate_images(
        requests=requests, retry=retry, timeout=VISION_TIMEOUT_SECONDS
    )
    return list(response.responses)


def vision_texts(images: list[bytes], endpoint: str = "") -> list[list[Seen]]:
    """Cloud Vision TEXT_DETECTION on one batch (<= 16 images, <= VISION_REQUEST_BYTES). An
    image Vision could not read is asked once more when its error is transient; one still
    unread, or a batch still failing after the retries, reads as no text and is named in the
    run's problems. Refusals of the whole service (403, 401) raise: every batch would fail."""
    from google.api_core import exceptions

    assert len(images) <= VISION_BATCH
    try:
        items = _annotate(images, endpoint)
    except (exceptions.Forbidden, exceptions.Unauthorized):
        raise
    except Exception as exc:  # noqa: BLE001 - this batch is lost, the others are not
        _current().problems.append(
            f"Cloud Vision failed on {len(images)} images: {type(exc).__name__}: {exc}"
        )
        return [[] for _ in images]
    again = [
        i for i, item in enumerate(items) if item.error.message and item.error.code in RETRY_CODES
    ]
    if again:
        try:
            retried = _annotate([images[i] for i in again], endpoint)
        except (exceptions.Forbidden, exceptions.Unauthorized):
            raise
        except Exception:  # noqa: BLE001 - keep the first answers' errors
            retried = [items[i] for i in again]
        for i, item in zip(again, retried, strict=True):
            items[i] = item
    failed = [f"code {i.error.code}: {i.error.message}" for i in items if i.error.message]
    if failed:
        _current().problems.append(
            f"Cloud Vision could not read {len(failed)} of {len(images)} images ({failed[0]})"
        )
    return [[] if item.error.message else _lines(item) for item in items]


def _lines(item: Any) -> list[Seen]:
    full = item.text_annotations[0].description if item.text_annotations else ""
    return [Seen(line) for line in full.splitlines() if line.strip()]


_clients: dict[str, object] = {}


def _vision_client(endpoint: str = ""):
    """One client per endpoint and process. A custom endpoint (SVP_VISION_ENDPOINT, a
    self-hosted or test server) is spoken to over REST without Google credentials."""
    if endpoint not in _clients:
        from google.cloud import vision

        if endpoint:
            from google.auth.credentials import AnonymousCredentials

            _clients[endpoint] = vision.ImageAnnotatorClient(
                transport="rest",
                client_options={"api_endpoint": endpoint},
                credentials=AnonymousCredentials(),
            )
        else:
            _clients[endpoint] = vision.ImageAnnotatorClient()
    return _clients[endpoint]


# -- merging ---------------------------------------------------------------------------------
def _key(line: str) -> str:
    return re.sub(r"[^\w]+", "", line.lower())


def _plausible(line: str) -> bool:
    """OCR noise from textures has few letters or digits and many one-character tokens."""
    key = _key(line)
    if len(key) < 2:
        return False
    visible = re.sub(r"\s+", "", line)
    if len(key) / max(1, len(visible)) < 0.5:
        return False
    tokens = [re.sub(r"[^\w]+", "", t) for t in line.split()]
    if len(tokens) >= 3 and sum(len(t) == 1 for t in tokens) / len(tokens) > 0.6:
        return False
    # A line needs a word of three letters or a number of two digits ("EI", "Be it" are noise).
    return any(len(t) >= 3 or (len(t) >= 2 and t.isdigit()) for t in tokens)


class LineMerger:
    """Lines in order of first appearance; near-duplicates folded into one."""

    def __init__(self, ratio: float = FOLD_RATIO):
        self.ratio = ratio
        self._lines: list[dict[str, Any]] = []
        self._exact: dict[str, int] = {}

    def add(
        self, lines: Iterable[str | Seen], seconds: float | None, image: int | None = None
    ) -> None:
        for raw in lines:
            text = re.sub(r"\s+", " ", raw.text if isinstance(raw, Seen) else raw).strip()
            if not _plausible(text):
                continue
            key = _key(text)
            index = self._exact.get(key)
            if index is None:
                index = self._similar(key)
            if index is None:
                self._exact[key] = len(self._lines)
                self._lines.append(
                    {"key": key, "spellings": {text: 1}, "seconds": seconds, "image": image}
                )
                continue
            self._exact.setdefault(key, index)
            spellings = self._lines[index]["spellings"]
            spellings[text] = spellings.get(text, 0) + 1

    def _similar(self, key: str) -> int | None:
        for index, line in enumerate(self._lines):
            other = line["key"]
            if abs(len(other) - len(key)) > max(len(other), len(key)) * (1 - self.ratio):
                continue
            matcher = difflib.SequenceMatcher(None, key, other, autojunk=False)
            if matcher.real_quick_ratio() >= self.ratio and matcher.ratio() >= self.ratio:
                return index
        return None

    def lines(self) -> list[TextLine]:
        merged = []
        for line in self._lines:
            spellings = line["spellings"]
            # The spelling read most often; on a tie, the first read.
            best = max(spellings, key=lambda s: spellings[s])
            merged.append(TextLine(best, line["seconds"], line["image"]))
        return merged


def _batches(items: Iterable[tuple[Any, bytes]]) -> Iterator[list[tuple[Any, bytes]]]:
    """(label, jpeg) in batches of at most VISION_BATCH images and VISION_REQUEST_BYTES."""
    batch: list[tuple[Any, bytes]] = []
    size = 0
    for item in items:
        cost = request_bytes(item[1])
        if batch and (len(batch) == VISION_BATCH or size + cost > VISION_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += cost
    if batch:
        yield batch


def read_frames(
    frames: Iterable[tuple[Any, np.ndarray]], settings: Settings
) -> Iterator[tuple[Any, list[Seen]]]:
    """(label, lines) for each (label, BGR frame), in order; frames are consumed lazily."""
    if settings.ocr_engine == "vision":
        encoded = ((label, encode_jpeg(frame)) for label, frame in frames)
        for batch in _batches(encoded):
            texts = vision_texts([content for _, content in batch], settings.vision_endpoint)
            yield from zip((label for label, _ in batch), texts, strict=True)
        return
    read = rapidocr_lines if settings.ocr_engine == "rapidocr" else tesseract_lines
    for label, frame in frames:
        yield label, read(frame)
