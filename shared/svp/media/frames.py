"""Frames for OCR: sampled through keyframes, streamed one at a time, and kept only when the text
on screen has changed.

Sampling (`sample_frames`)
--------------------------
A first pass reads the video's packet index (no decoding) to learn where the keyframes are.
Each sample time (0, every, 2*every, ...) is served by the nearest keyframe when one lies within
a quarter of an interval (decoding a keyframe needs no other frame), else by decoding forward
from the keyframe before it. A single forward pass then feeds the decoder only the packets
those frames need; every other group of pictures is skipped without decoding. Short videos are
usually encoded with a keyframe every 1-2 s, so most samples cost one keyframe decode
(bench/frames.py).

Each sample also carries a small grey `companion` frame `lag` seconds later (the next few
frames of the same group of pictures), which is what lets `TextChanges` tell still text from a
moving background.

Text changes (`TextChanges`)
----------------------------
Overlay text stays still while the footage behind it moves. For each sample the edges present in
both the frame and its companion are the still structure of the picture: overlay text, logos,
static scenery (long straight edges are dropped: box borders, architecture). That still-edge map
is compared, pixel for pixel, with the map of the last frame sent to OCR: a frame is sent when
still edges appeared that were not there (new or changed text) in a blob the size of a word;
edges that only disappeared (text gone) need no OCR. A moving background contributes few still
edges, so unchanged text over it counts as unchanged; small changing text (clocks, counters) is
ignored, and so is a change of a single character in a line (see TextChanges). Between sends
the reference map only loses edges, so text that fades in over several samples still triggers
once complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_HEIGHT = 480  # still-edge maps are computed on frames this tall


@dataclass
class Sample:
    seconds: float  # when the frame is shown
    frame: np.ndarray  # BGR, full size: what OCR reads
    small: np.ndarray | None = None  # grey, ANALYSIS_HEIGHT tall
    companion: np.ndarray | None = None  # grey, same size, `lag` seconds later


def _video_index(path: Path) -> tuple[list[float], float]:
    """Keyframe times and the duration, from the packet index (nothing decoded)."""
    from svp.media.ffmpeg import open_container

    with open_container(path) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        keys: list[float] = []
        last = 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * base)
            last = max(last, t + float((packet.duration or 0) * base))
            if packet.is_keyframe:
                keys.append(t)
        duration = float(stream.duration * base) if stream.duration else last
        if container.duration and not stream.duration:
            duration = max(duration, container.duration / 1_000_000)
    return sorted(set(keys)), duration


def plan_samples(
    keyframes: list[float], duration: float, every: float, tolerance: float | None = None
) -> list[float]:
    """The frame times to decode: the keyframe nearest each sample time when close enough (and
    not already serving another sample), else the sample time itself. Sorted."""
    import bisect

    tolerance = every / 4 if tolerance is None else tolerance
    wanted: list[float] = []
    t = 0.0
    while t < max(duration, 1e-6):
        i = bisect.bisect_left(keyframes, t)
        near = [keyframes[j] for j in (i - 1, i) if 0 <= j < len(keyframes)]
        best = min(near, key=lambda k: abs(k - t)) if near else None
        if best is not None and abs(best - t) <= tolerance and best not in wanted:
            wanted.append(best)
        else:  # no keyframe near, or it already serves the previous sample: this exact time
            wanted.append(t)
        t += every
    return sorted(set(wanted))


def sample_frames(
    video: Path, every: float = 2.0, *, lag: float = 0.0, analysis: bool = False
) -> Iterator[Sample]:
    """Samples about every `every` seconds, in order, one at a time.

    `lag` > 0 adds a grey companion frame that much later; `analysis` adds the grey `small`
    frame (both for TextChanges).
    """
    import av

    from svp.media.ffmpeg import open_container

    keys, duration = _video_index(video)
    if not keys:
        return
    wanted = plan_samples(keys, duration, every)
    # Per group of pictures (keyframe to keyframe): decode up to the last frame it must give.
    needed: dict[float, float] = {}
    import bisect

    for w in wanted:
        key = keys[max(0, bisect.bisect_right(keys, w + 1e-6) - 1)]
        needed[key] = max(needed.get(key, -1.0), key if w == key and not lag else w + lag)

    with open_container(video) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        height = stream.codec_context.height or ANALYSIS_HEIGHT
        width = stream.codec_context.width or ANALYSIS_HEIGHT
        scale = min(1.0, ANALYSIS_HEIGHT / height)
        small_size = (max(16, int(width * scale) // 2 * 2), max(16, int(height * scale) // 2 * 2))
        half_frame = 0.5 / float(stream.average_rate or 30)
        queue = list(wanted)  # frame times still to give, in order
        pending: Sample | None = None  # a sample waiting for its companion
        until = -1.0

        def grey(frame: av.VideoFrame) -> np.ndarray:
            return frame.reformat(
                width=small_size[0], height=small_size[1], format="gray"
            ).to_ndarray()

        def take(frame: av.VideoFrame) -> Iterator[Sample]:
            nonlocal pending
            t = float(frame.pts * base) if frame.pts is not None else frame.time
            if pending is not None and t >= pending.seconds + lag - half_frame:
                pending.companion = grey(frame)
                yield pending
                pending = None
            while queue and t >= queue[0] - half_frame:
                queue.pop(0)
                sample = Sample(round(t, 3), frame.to_ndarray(format="bgr24"))
                if analysis:
                    sample.small = grey(frame)
                if lag > 0:
                    if pending is not None:  # the next sample came first: use it as companion
                        pending.companion = sample.small if analysis else grey(frame)
                        yield pending
                    pending = sample
                else:
                    yield sample

        decoder = stream.codec_context
        # Packets come in decoding order: a frame shown before `until` may need a few packets
        # shown after it (B-frames). Only a lone keyframe needs nothing else.
        reorder = 4 * 2 * half_frame
        margin = 0.0
        for packet in container.demux(stream):
            if packet.pts is None and packet.size == 0:
                continue
            t = float(packet.pts * base) if packet.pts is not None else until
            if packet.is_keyframe:
                until = needed.get(t, -1.0)
                margin = reorder if until > t else 0.0
            if until < 0 or t > until + margin:
                continue
            for frame in decoder.decode(packet):
                yield from take(frame)
            if not queue and pending is None:
                return
        for frame in decoder.decode(None):
            yield from take(frame)
        if pending is not None:  # the video ended before the companion: compare with itself
            pending.companion = pending.small if pending.small is not None else None
            yield pending


# -- text changes ------------------------------------------------------------------------------
@dataclass
class TextChanges:
    """Decides which samples show text that was not in the last frame sent to OCR.

    Thresholds are for still-edge maps ANALYSIS_HEIGHT (480) px tall, measured on clips with
    moving backgrounds (bench/ocr_calls.py): a changed line of overlay text adds 400+ new
    still-edge pixels, one changed short word about 200-300; background motion, counters and
    compression jitter stayed under 190. The price: a change of a single character in an
    otherwise unchanged line ("Step 1" -> "Step 2") is below the threshold and is not sent.
    """

    min_pixels: int = 200  # new still-edge pixels in one blob (about one short word)
    min_height: float = 0.02  # the blob is at least this share of the frame height
    min_aspect: float = 0.3  # and not a thin vertical line (width >= 0.3 x height)
    line_length: float = 0.05  # straight edges longer than this share of the height are
    # scenery or text boxes, not glyphs
    sent: int = 0
    seen: int = 0
    _reference: np.ndarray | None = field(default=None, repr=False)

    def still_edges(self, small: np.ndarray, companion: np.ndarray | None) -> np.ndarray:
        """Edges in both the frame and its companion, without long straight lines."""
        import cv2

        edges = cv2.Canny(cv2.GaussianBlur(small, (3, 3), 0), 80, 160)
        if companion is not None:
            later = cv2.Canny(cv2.GaussianBlur(companion, (3, 3), 0), 80, 160)
            edges = cv2.bitwise_and(edges, cv2.dilate(later, _kernel(3, 3)))
        length = max(9, int(self.line_length * edges.shape[0]))
        lines = cv2.bitwise_or(
            cv2.morphologyEx(edges, cv2.MORPH_OPEN, _kernel(1, length)),
            cv2.morphologyEx(edges, cv2.MORPH_OPEN, _kernel(length, 1)),
        )
        return cv2.bitwise_and(edges, cv2.bitwise_not(cv2.dilate(lines, _kernel(3, 3))))

    def changed(self, small: np.ndarray, companion: np.ndarray | None) -> bool:
        """Whether this sample (grey `small` frame and its `companion`) must be read."""
        import cv2
        import numpy as np

        self.seen += 1
        still = self.still_edges(small, companion)
        if self._reference is None:
            self._reference = np.zeros_like(still)
        # Still text is pixel-still: compared exactly, other glyphs at the same place differ.
        new = cv2.bitwise_and(still, cv2.bitwise_not(self._reference))
        if self._has_text_blob(new):
            self._reference = still
            self.sent += 1
            return True
        # Forget what disappeared; keep the rest, so text fading in is caught once complete.
        self._reference = cv2.bitwise_and(self._reference, cv2.dilate(still, _kernel(3, 3)))
        return False

    def _has_text_blob(self, new: np.ndarray) -> bool:
        import cv2

        if cv2.countNonZero(new) < self.min_pixels:
            return False
        height = new.shape[0]
        # Glyphs of one line of text merge into one blob; scattered noise does not.
        joined = cv2.dilate(new, _kernel(9, 5))
        count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        for index in range(1, count):
            x, y, w, h, _ = stats[index]
            if h < self.min_height * height or w < self.min_aspect * h:
                continue
            if cv2.countNonZero(new[y : y + h, x : x + w]) >= self.min_pixels:
                return True
        return False


def _kernel(width: int, height: int):
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))


def changed_samples(
    samples: Iterable[Sample], changes: TextChanges | None = None
) -> Iterator[Sample]:
    """The samples whose text changed, in order (see TextChanges)."""
    changes = changes if changes is not None else TextChanges()
    for sample in samples:
        assert sample.small is not None, "sample_frames(..., analysis=True)"
        if changes.changed(sample.small, sample.companion):
            yield sample
