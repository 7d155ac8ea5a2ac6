"""FakeVision: Cloud Vision ``images:annotate`` (text detection) over REST.

    with FakeVision(responder=lambda image: "1 cup flour") as fake:
        client = vision.ImageAnnotatorClient(
            transport="rest",
            client_options={"api_endpoint": fake.base_url},  # "http://127.0.0.1:PORT"
            credentials=AnonymousCredentials(),
        )
        client.batch_annotate_images(requests=[...])

Wire facts (google-cloud-vision 3.16): the ``api_endpoint`` must carry the ``http://``
scheme; a bare ``127.0.0.1:PORT`` makes the REST transport speak HTTPS. The client posts
``/v1/images:annotate?$alt=json;enum-encoding=int`` with
``{"requests": [{"image": {"content": <base64>}, "features": [{"type": 5}]}]}`` (enums as
integers: TEXT_DETECTION = 5, DOCUMENT_TEXT_DETECTION = 11). It retries 503/504 by itself
(back-off from 0.1 s), not 429.

The fake answers ``textAnnotations`` (first = the full text, then one per word) and
``fullTextAnnotation.text`` for text features; an image without text gets ``{}`` as the
real API does.

Documented limits it enforces (https://cloud.google.com/vision/quotas, "Content limits"):
more than 16 images in a request, or a JSON request body over 10 MB, answer 400
INVALID_ARGUMENT; an image over 20 MB gets a per-image error. ``fail_images`` makes the next
images' answers per-image errors (``{"error": {"code", "message"}}`` inside a 200, as
https://cloud.google.com/vision/docs/reference/rest/v1/AnnotateImageResponse documents).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from ._server import FakeServer, RecordedRequest, Reply, google_error

__all__ = ["FakeVision", "VisionResponder"]

# https://cloud.google.com/vision/quotas, "Content limits":
MAX_IMAGES = 16  # "Images per request: 16"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # "JSON request object size: 10 MB"
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # "Image file size: 20 MB"
TEXT_FEATURES = {5, 11, "TEXT_DETECTION", "DOCUMENT_TEXT_DETECTION"}
INVALID_ARGUMENT = 3  # google.rpc.Code

VisionResponder = Callable[[bytes], str]


def _no_text(image: bytes) -> str:
    return ""


class FakeVision(FakeServer):
    """``responder(image_bytes) -> text`` is called once per image with text features."""

    def __init__(self, responder: VisionResponder = _no_text) -> None:
        super().__init__()
        self.responder = responder
        self.images: list[bytes] = []  # every decoded image, in order
        self.image_failures: list[tuple[int, str]] = []  # (google.rpc.Code, message), in turn

    def fail_next(self, status: int, times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` requests with a Google error (503 UNAVAILABLE, ...)."""
        self.failures.push(google_error(status, message), times)

    def fail_images(self, code: int = 14, times: int = 1, message: str | None = None) -> None:
        """The next ``times`` images are answered with a per-image error (14 UNAVAILABLE,
        3 INVALID_ARGUMENT, ...) inside a 200 answer."""
        text = message or f"Injected per-image error {code} from FakeVision"
        self.image_failures.extend((code, text) for _ in range(times))

    def handle(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path) != ("POST", "/v1/images:annotate"):
            return google_error(404, f"Method not found: {request.method} {request.path}")
        if len(request.body) > MAX_REQUEST_BYTES:
            return google_error(
                400, f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
            )
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            return google_error(400, "Invalid JSON payload received: `requests` is required.")
        requests = body["requests"]
        if not requests:
            return google_error(400, "No requests specified.")
        if len(requests) > MAX_IMAGES:
            return google_error(
                400, f"Too many images per request: {len(requests)}, the limit is {MAX_IMAGES}."
            )
        return Reply(200, {"responses": [self._annotate(r) for r in requests]})

    def _annotate(self, item: Any) -> dict[str, Any]:
        image = (item or {}).get("image") or {}
        features = (item or {}).get("features") or []
        if not features:
            return _image_error("No feature specified.")
        if "content" not in image:
            return _image_error("FakeVision only reads inline image.content.")
        try:
            data = base64.b64decode(image["content"], validate=True)
        except (binascii.Error, ValueError):
            return _image_error("image.content is not valid base64.")
        if len(data) > MAX_IMAGE_BYTES:
            return _image_error("Image size exceeds the limit of 20 MB.")
        self.images.append(data)
        if self.image_failures:
            code, message = self.image_failures.pop(0)
            return {"error": {"code": code, "message": message}}
        if not any(f.get("type") in TEXT_FEATURES for f in features):
            return {}
        text = self.responder(data)
        return _text_response(text) if text else {}


def _image_error(message: str) -> dict[str, Any]:
    return {"error": {"code": INVALID_ARGUMENT, "message": message}}


def _box(x: int, width: int) -> dict[str, Any]:
    return {
        "vertices": [
            {"x": x, "y": 0},
            {"x": x + width, "y": 0},
            {"x": x + width, "y": 20},
            {"x": x, "y": 20},
        ]
    }


def _text_response(text: str) -> dict[str, Any]:
    words = text.split()
    annotations = [{"locale": "en", "description": text, "boundingPoly": _box(0, 10 * len(text))}]
    x = 0
    for word in words:
        annotations.append({"description": word, "boundingPoly": _box(x, 10 * len(word))})
        x += 10 * (len(word) + 1)
    return {
        "textAnnotations": annotations,
        "fullTextAnnotation": {
            "pages": [{"width": max(x, 1), "height": 20, "blocks": [], "confidence": 0.99}],
            "text": text,
        },
    }
