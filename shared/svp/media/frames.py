"""Frames sampled every few seconds, streamed one at a time (memory stays flat)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


def sample_frames(video: Path, every_seconds: float = 2.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds, BGR frame) at 0, every, 2*every, ... by seeking, not by decoding all."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        return
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0
        duration = count / fps if fps > 0 else 0
        t = 0.0
        while duration == 0 or t < duration:
            capture.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
            ok, frame = capture.read()
            if not ok:
                break
            yield t, frame
            t += every_seconds
    finally:
        capture.release()
