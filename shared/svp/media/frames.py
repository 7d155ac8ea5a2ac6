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
frames of the same group of pictures, or the next sample when samples are that close), which is
what lets `TextChanges` tell still text from a moving background.

The OCR stage looks every 0.3 s (`text_samples`, SVP_OCR_INTERVAL), so that an overlay shown
for 0.8 s is seen on two looks in a row; that decodes every frame another frame depends on
(B-frames nothing refers to are skipped), about 2x faster than decoding everything, where a
look every 2 s decodes mostly keyframes (bench/frames.py has both). Only frames showing new
text are converted to full size and read.

Text changes (`TextChanges`)
----------------------------
Overlay text stays still while the footage behind it moves. For each look the edges present at
the same pixel in the frame and its companion are the still structure of the picture: overlay
text, logos, static scenery (long straight edges are dropped: box borders, architecture). Of
those, the edges that were neither in the last frame sent to OCR nor in the previous look
(footage drifting slowly enough to look still changes a little at every look; text appears at
once) are new. They are cut into text regions (a line's glyphs joined), and a frame is sent
when a region of at least a short word's pixels is mostly new compared with the rest of its
line: a new line however short, or a line replaced by another, but not a counter whose last
digit ticks, nor a single changed character (see TextChanges). Edges that only disappeared
(text gone) need no OCR; between sends the reference only loses edges, so text fading in still
triggers once complete. The detector also counts, per pixel, on how many looks an edge stood
still there: text that stayed in place all along (a watermark, a handle) is told apart from
content by its pixels, whatever OCR made of it (`steady_share`, used by svp.media.screen).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_HEIGHT = 480  # still-edge maps are computed on frames this tall
PERSISTENT_LOOKS = 0.8  # an edge still in place on this share of the looks stays throughout


class Sample:
    """One sampled frame. The full-size BGR `frame` is converted only when asked for (most
    samples are only compared, never read)."""

    def __init__(self, seconds: float, frame: Any, small: np.ndarray | None = None):
        self.seconds = seconds  # when the frame is shown
        self._source = frame  # an av.VideoFrame, or an already converted array
        self._frame: np.ndarray | None = None
        self.small = small  # grey, ANALYSIS_HEIGHT tall
        self.companion: np.ndarray | None = None  # grey, same size, `lag` seconds later

    @property
    def frame(self) -> np.ndarray:
        """BGR, full size: what OCR reads."""
        if self._frame is None:
            source = self._source
            self._frame = source if hasattr(source, "shape") else source.to_ndarray(format="bgr24")
            self._source = None
        return self._frame


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
    video: Path,
    every: float = 2.0,
    *,
    lag: float = 0.0,
    analysis: bool = False,
    refs_only: bool = False,
) -> Iterator[Sample]:
    """Samples about every `every` seconds, in order, one at a time.

    `lag` > 0 adds a grey companion frame that much later (with `lag` >= `every`, the next
    sample's); `analysis` adds the grey `small` frame (both for TextChanges). `refs_only`
    skips decoding the frames no other frame needs (most B-frames): a sample may then be up to
    a few frames late, and decoding densely spaced samples costs about a quarter less.
    """
    from svp.media.ffmpeg import open_container

    keys, duration = _video_index(video)
    if not keys:
        return
    wanted = plan_samples(keys, duration, every)
    with open_container(video) as container:
        sampler = _Sampler(container.streams.video[0], wanted, lag, analysis, refs_only)
        yield from sampler.run(container, _decode_until(keys, wanted, lag))


def _decode_until(keys: list[float], wanted: list[float], lag: float) -> dict[float, float]:
    """Per group of pictures (keyframe -> the time of the last frame it must give): the rest
    of a group is never decoded."""
    needed: dict[float, float] = {}
    for w in wanted:
        key = keys[max(0, bisect.bisect_right(keys, w + 1e-6) - 1)]
        needed[key] = max(needed.get(key, -1.0), key if w == key and not lag else w + lag)
    return needed


class _Sampler:
    """Turns the decoded frames of one video stream into samples at the wanted times."""

    def __init__(
        self, stream: Any, wanted: list[float], lag: float, analysis: bool, refs_only: bool
    ):
        stream.thread_type = "AUTO"
        if refs_only:
            stream.codec_context.skip_frame = "NONREF"
        self.stream = stream
        self.base = stream.time_base
        height = stream.codec_context.height or ANALYSIS_HEIGHT
        width = stream.codec_context.width or ANALYSIS_HEIGHT
        scale = min(1.0, ANALYSIS_HEIGHT / height)
        self.small_size = (
            max(16, int(width * scale) // 2 * 2),
            max(16, int(height * scale) // 2 * 2),
        )
        self.half_frame = 0.5 / float(stream.average_rate or 30)
        self.queue = list(wanted)  # frame times still to give, in order
        self.lag = lag
        self.analysis = analysis
        self.pending: Sample | None = None  # a sample waiting for its companion
        self.greys: list[np.ndarray] = []  # the last two grey frames made

    def run(self, container: Any, needed: dict[float, float]) -> Iterator[Sample]:
        decoder = self.stream.codec_context
        # Packets come in decoding order: a frame shown before `until` may need a few packets
        # shown after it (B-frames). Only a lone keyframe needs nothing else.
        reorder = 8 * self.half_frame
        until, margin = -1.0, 0.0
        for packet in container.demux(self.stream):
            if packet.pts is None and packet.size == 0:
                continue
            t = float(packet.pts * self.base) if packet.pts is not None else until
            if packet.is_keyframe:
                until = needed.get(t, -1.0)
                margin = reorder if until > t else 0.0
            if until < 0 or t > until + margin:
                continue
            for frame in decoder.decode(packet):
                yield from self.take(frame)
            if not self.queue and self.pending is None:
                return
        for frame in decoder.decode(None):
            yield from self.take(frame)
        if self.pending is not None:  # the video ended before the companion: the look before
            # it tells what stood still (or, alone, the frame itself)
            self.pending.companion = self.greys[0] if len(self.greys) == 2 else self.pending.small
            yield self.pending

    def take(self, frame: Any) -> Iterator[Sample]:
        t = float(frame.pts * self.base) if frame.pts is not None else frame.time
        small: np.ndarray | None = None  # this frame in grey, made at most once
        pending = self.pending
        if pending is not None and t >= pending.seconds + self.lag - self.half_frame:
            pending.companion = small = self.grey(frame)
            yield pending
            self.pending = None
        while self.queue and t >= self.queue[0] - self.half_frame:
            self.queue.pop(0)
            if self.queue and t >= self.queue[0] - self.half_frame:
                continue  # frames were skipped: this frame serves the latest sample time
            sample = Sample(round(t, 3), frame)
            if self.analysis:
                sample.small = small = small if small is not None else self.grey(frame)
            if self.lag <= 0:
                yield sample
                continue
            if self.pending is not None:  # the next sample came first: use it as companion
                self.pending.companion = small if small is not None else self.grey(frame)
                yield self.pending
            self.pending = sample

    def grey(self, frame: Any) -> np.ndarray:
        width, height = self.small_size
        made = frame.reformat(width=width, height=height, format="gray").to_ndarray()
        self.greys[:] = [*self.greys[-1:], made]
        return made


# -- text changes ------------------------------------------------------------------------------
@dataclass
class TextChanges:
    """Decides which samples show text that was not in the last frame sent to OCR.

    The still-edge map of a sample (edges in the same place in the sample and its companion,
    long straight lines removed) is cut into text regions: edges joined along a line, of a
    glyph's height and wider than tall. A region is new text when most of its edges were not
    in the map of the last frame sent (compared pixel for pixel: other glyphs in the same
    place differ) and they are at least `min_new` pixels, about two small characters. Judging
    each region on its own share, rather than the size of the largest new blob, is what lets
    a short word ("MINT 14") through while a counter whose last digit ticks, or one changed
    character in a line, stays below the share.

    Thresholds are for maps ANALYSIS_HEIGHT (480) px tall, measured on clips with moving
    backgrounds, corner counters and watermarks (bench/ocr_calls.py, bench/ocr_quality.py).
    """

    min_new: int = 40  # new still-edge pixels in one region
    min_moved: int = 40  # of which this many more than a pixel away from the last look's edges
    min_share: float = 0.3  # of the region's still-edge pixels
    min_height: float = 0.012  # a region is at least this share of the frame height
    max_height: float = 0.15  # and at most this (taller: pictures, not a line of text)
    min_aspect: float = 0.8  # width >= 0.8 x height (a line of two characters or more)
    line_length: float = 0.05  # straight edges longer than this share of the height are
    # scenery or text boxes, not glyphs
    sent: int = 0
    seen: int = 0
    duration: float = 0.0  # time of the last look (set by text_samples)
    _reference: np.ndarray | None = field(default=None, repr=False)
    _previous: np.ndarray | None = field(default=None, repr=False)
    _still_looks: np.ndarray | None = field(default=None, repr=False)  # per pixel: looks still
    _read: list[np.ndarray] = field(default_factory=list, repr=False)  # still maps (bits) read
    last_still: np.ndarray | None = field(default=None, repr=False)  # the last look's map

    def still_edges(self, small: np.ndarray, companion: np.ndarray | None) -> np.ndarray:
        """Edges in the same place in the frame and its companion, without long straight
        lines. Overlay text is pixel-still; footage, even slow, moves by a pixel or more."""
        import cv2

        edges = _edges(small)
        if companion is not None:
            edges = cv2.bitwise_and(edges, _edges(companion))
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
        still = self.last_still = self.still_edges(small, companion)
        if self._reference is None:
            self._reference = np.zeros_like(still)
            self._still_looks = np.zeros(still.shape, dtype=np.uint16)
        self._still_looks += still > 0
        new = cv2.bitwise_and(still, cv2.bitwise_not(self._reference))
        exact = new
        if self._previous is not None:
            # Only edges that appeared since the last look: footage drifting slowly enough to
            # look still (a slow zoom) moves a pixel or two at every look, text appears at once.
            # Where text is found, its share of new pixels is counted exactly: one line
            # replaced by another in the same place shares many pixels within a pixel or two.
            before = _edges(self._previous)
            exact = cv2.bitwise_and(new, cv2.bitwise_not(before))
            new = cv2.bitwise_and(new, cv2.bitwise_not(cv2.dilate(before, _kernel(3, 3))))
        self._previous = small
        if self._has_new_text(still, new, exact):
            self._reference = still
            self.sent += 1
            self._read.append(np.packbits(still > 0))
            return True
        # Forget what disappeared; keep the rest, so text fading in is caught once complete.
        self._reference = cv2.bitwise_and(self._reference, cv2.dilate(still, _kernel(3, 3)))
        return False

    def steady_share(self, read: int, box: tuple[float, float, float, float]) -> float:
        """Of the still edges inside `box` (left, top, width, height as shares of the frame)
        on the `read`-th frame read, the share that stood still at the same pixel on most
        looks at the video (PERSISTENT_LOOKS): 1.0 for a watermark, low for a line shown a
        while, whatever the OCR made of either."""
        import numpy as np

        if self._still_looks is None or read >= len(self._read):
            return 0.0
        height, width = self._still_looks.shape
        still = np.unpackbits(self._read[read], count=height * width).reshape(height, width)
        left, top, w, h = box
        x0, y0 = int(left * width), int(top * height)
        x1, y1 = int((left + w) * width) + 1, int((top + h) * height) + 1
        edges = still[y0:y1, x0:x1] > 0
        if not edges.any():
            return 0.0
        steady = self._still_looks[y0:y1, x0:x1] >= PERSISTENT_LOOKS * self.seen
        return float((edges & steady).sum() / edges.sum())

    def regions(self, still: np.ndarray) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of the text-like regions of a still-edge map."""
        import cv2

        height = still.shape[0]
        # Glyphs of one line (and the words of a short line) join; lines above and below not.
        joined = cv2.morphologyEx(still, cv2.MORPH_CLOSE, _kernel(9, 1))
        joined = cv2.dilate(joined, _kernel(5, 3))
        count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        found = []
        for index in range(1, count):
            x, y, w, h, _ = (int(v) for v in stats[index])
            if not self.min_height * height <= h <= self.max_height * height:
                continue
            if w < self.min_aspect * h:
                continue
            found.append((x, y, w, h))
        return found

    def _has_new_text(self, still: np.ndarray, new: np.ndarray, exact: np.ndarray) -> bool:
        import cv2

        if cv2.countNonZero(new) < self.min_moved:
            return False
        for x, y, w, h in self.regions(exact):
            # Pixels new even allowing for a pixel of drift: footage drifting slowly has none.
            if cv2.countNonZero(new[y : y + h, x : x + w]) < self.min_moved:
                continue
            # The rest of the line counts too: one new digit beside unchanged ones is a tick.
            left, right = max(0, x - h), x + w + h
            added = cv2.countNonZero(exact[y : y + h, left:right])
            if added < self.min_new:
                continue
            if added >= self.min_share * cv2.countNonZero(still[y : y + h, left:right]):
                return True
        return False


def _edges(grey: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 80, 160)


def _kernel(width: int, height: int):
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))


# -- the frames the OCR stage reads --------------------------------------------------------------
MAX_LAG = 0.3  # companion at most this much later (overlays shown for 0.8 s stay still that long)


def frame_at(video: Path, seconds: float) -> np.ndarray | None:
    """The frame shown at `seconds` (BGR, full size), or None past the end: one seek to the
    keyframe before it and a decode forward."""
    from svp.media.ffmpeg import open_container

    with open_container(video) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        container.seek(int(seconds / base), stream=stream, backward=True, any_frame=False)
        half_frame = 0.5 / float(stream.average_rate or 30)
        for frame in container.decode(stream):
            shown = float(frame.pts * base) if frame.pts is not None else frame.time
            if shown >= seconds - half_frame:
                return frame.to_ndarray(format="bgr24")
    return None


def text_samples(
    video: Path,
    every: float,
    changes: TextChanges,
    on_look: Callable[[Sample, np.ndarray], None] | None = None,
) -> Iterator[Sample]:
    """The samples of `video` that show new text, looked at every `every` seconds.

    Below a second apart, each look's companion is the next look and frames no other frame
    needs are not decoded. `changes.duration` is set to the time of the last look.
    `on_look(sample, still-edge map)` sees every look (the page's picture is chosen there).
    """
    lag = min(every, MAX_LAG)
    for sample in sample_frames(video, every, lag=lag, analysis=True, refs_only=every < 1):
        assert sample.small is not None
        changes.duration = sample.seconds
        changed = changes.changed(sample.small, sample.companion)
        if on_look is not None and changes.last_still is not None:
            on_look(sample, changes.last_still)
        if changed:
            yield sample
