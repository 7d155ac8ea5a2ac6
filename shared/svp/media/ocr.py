"""On-screen text: OCR engines and the merge of lines across frames in order of appearance."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from svp.config import Settings

VISION_BATCH = 16
T = TypeVar("T")


@dataclass(frozen=True)
class TextLine:
    text: str
    seconds: float


def _prepare(frame: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    # Tesseract reads small overlay text far better at ~2x on short videos' 720p frames.
    if gray.shape[0] < 1400:
        gray = cv2.resize(gray, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    return gray


def tesseract_lines(frame: np.ndarray) -> list[str]:
    import pytesseract

    text = pytesseract.image_to_string(_prepare(frame), config="--psm 11")
    return [line for line in text.splitlines() if line.strip()]


def vision_texts(frames: list[np.ndarray], endpoint: str = "") -> list[list[str]]:
    """Cloud Vision TEXT_DETECTION, up to 16 images per request."""
    import cv2
    from google.cloud import vision

    client = _vision_client(endpoint)
    results: list[list[str]] = []
    for start in range(0, len(frames), VISION_BATCH):
        requests = [
            vision.AnnotateImageRequest(
                image=vision.Image(content=cv2.imencode(".jpg", frame)[1].tobytes()),
                features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
            )
            for frame in frames[start : start + VISION_BATCH]
        ]
        response = client.batch_annotate_images(requests=requests)
        for item in response.responses:
            full = item.text_annotations[0].description if item.text_annotations else ""
            results.append([line for line in full.splitlines() if line.strip()])
    return results


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


def _key(line: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", line.lower())


def merge_lines(frames: Iterable[tuple[float, list[str]]]) -> list[TextLine]:
    """Lines in order of first appearance; repeats and OCR noise (no letters or digits) dropped."""
    seen: set[str] = set()
    merged: list[TextLine] = []
    for seconds, lines in frames:
        for line in lines:
            key = _key(line)
            if len(key) < 2 or key in seen:
                continue
            seen.add(key)
            merged.append(TextLine(re.sub(r"\s+", " ", line).strip(), seconds))
    return merged


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_frames(
    frames: Iterable[tuple[float, np.ndarray]], settings: Settings
) -> Iterator[tuple[float, list[str]]]:
    if settings.ocr_engine == "vision":
        for batch in _batches(frames, VISION_BATCH):
            texts = vision_texts([frame for _, frame in batch], settings.vision_endpoint)
            yield from zip((seconds for seconds, _ in batch), texts, strict=True)
        return
    for seconds, frame in frames:
        yield seconds, tesseract_lines(frame)
