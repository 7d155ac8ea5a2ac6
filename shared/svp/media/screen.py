"""The text on screen of one post: the frames worth reading, read, and their lines in order, with
the text that stays in place throughout the video kept apart.

This is the OCR stage's whole path (tests and benchmarks use it too): `svp.media.frames`
chooses the frames (new text only), `svp.media.ocr` reads them and folds repeated lines.

Persistent text
---------------
Watermarks, handles, channel names and frame counters sit in one place for most of the video;
they are not what the video is about, and a time code is no phone number. Readings in the same
place (the same spelling, or numbers only: a counter reads differently each time) form a group,
which is persistent when it stayed in place and looks like a mark rather than a title:
- stayed: at least 60 % of its pixels (30 % for numbers) stood still on 80 % of the looks at
  the video (svp.media.frames.TextChanges.steady_share): the pixels tell, however often OCR
  read the line; numbers that changed in one place for 30 % of the video are a counter;
  engines that give no place (Cloud Vision, as called here) are grouped by spelling, and a
  line read on 80 % of the frames read, spanning half the video, stayed;
- a mark: numbers only, or small (at most 2.5 % of the frame's height), or at an edge (the top
  or bottom eighth, or the outer sixth at either side). A large title shown all along stays
  content.
Persistent lines are listed apart, once each, and not among the lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svp.config import Settings
from svp.media.ocr import Box, LineMerger, Seen, TextLine, read_frames, where_marks_sit

if TYPE_CHECKING:
    import numpy as np

    from svp.media.picture import FramePicker

PERSISTENT_SHARE = 0.8  # of the frames read from a video (engines that give no place)
STEADY = 0.6  # of a line's pixels standing still on most looks: a mark, not content
STEADY_COUNTER = 0.3  # for numbers: a clock's last digits move
COUNTER_SPAN = 0.3  # of the video's length: changing numbers in one place that long
PERSISTENT_SPAN = 0.5  # of the video's length, between the first and the last reading
SAME_TEXT = 0.8  # spellings at least this similar are one text (OCR noise)
COUNTER_RE = re.compile(r"[\d\s:.,;/|'-]*\d[\d\s:.,;/|'-]*")  # "00:00:08 .333", "243", "3/10"


def is_counter(text: str) -> bool:
    """Numbers and time punctuation only: a counter, a clock or a time code."""
    return bool(COUNTER_RE.fullmatch(text.strip()))


def _key(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


def _same_place(a: Box, b: Box) -> bool:
    """Two boxes of one line of text: centres within about a line height, similar heights."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    height = max(ah, bh)
    if min(ah, bh) < 0.6 * height:
        return False
    return abs((ay + ah / 2) - (by + bh / 2)) <= 0.6 * height and (
        abs(ax - bx) <= 2 * height or abs((ax + aw) - (bx + bw)) <= 2 * height
    )


def _similar(a: str, b: str) -> bool:
    import difflib

    if a == b:
        return True
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_TEXT


@dataclass
class _Group:
    """Readings of one text in one place."""

    key: str
    counter: bool
    box: Box | None
    first: float
    last: float
    frames: set[float] = field(default_factory=set)
    spellings: Counter[str] = field(default_factory=Counter)
    steady: float = 0.0  # the highest share of its pixels that stood still all along

    def looks_like_a_mark(self) -> bool:
        if self.counter or self.box is None:
            return True
        return where_marks_sit(self.box)

    def takes(self, seen: Seen, key: str, counter: bool) -> bool:
        if counter != self.counter:
            return False
        if (seen.box is None) != (self.box is None):
            return False
        if seen.box is not None and self.box is not None:
            if not _same_place(seen.box, self.box):
                return False
            return counter or _similar(key, self.key)
        return _similar(key, self.key) or (counter and len(key) == len(self.key))


def persistent_groups(
    frames: list[tuple[float, list[Seen]]],
    duration: float,
    steady: Callable[[int, Box], float] | None = None,
) -> tuple[list[_Group], set[tuple[int, int]]]:
    """The persistent groups of one video's frames, and the (frame, line) indexes they hold.
    `steady(frame index, box)`: the share of the line's pixels that stood still on most looks
    at the video (TextChanges.steady_share)."""
    groups: list[_Group] = []
    members: list[list[tuple[int, int]]] = []
    for f, (seconds, lines) in enumerate(frames):
        for i, seen in enumerate(lines):
            key, counter = _key(seen.text), is_counter(seen.text)
            if not key:
                continue
            g = next((n for n, group in enumerate(groups) if group.takes(seen, key, counter)), None)
            if g is None:
                g = len(groups)
                groups.append(_Group(key, counter, seen.box, seconds, seconds))
                members.append([])
            group = groups[g]
            group.frames.add(seconds)
            group.last = max(group.last, seconds)
            group.spellings[seen.text.strip()] += 1
            if steady is not None and seen.box is not None:
                group.steady = max(group.steady, steady(f, seen.box))
            members[g].append((f, i))
    stays = [
        group.looks_like_a_mark() and _stays(group, len(frames), duration, steady is not None)
        for group in groups
    ]
    # A mark read once out of place (a shifted box over busy footage) is the same mark.
    marks = [
        group.key for group, kept in zip(groups, stays, strict=True) if kept and not group.counter
    ]
    kept: list[_Group] = []
    held: set[tuple[int, int]] = set()
    for group, where, stayed in zip(groups, members, stays, strict=True):
        if stayed:
            kept.append(group)
        elif not any(_similar(group.key, mark) for mark in marks):
            continue
        held.update(where)
    return kept, held


def _stays(group: _Group, read: int, duration: float, measured: bool) -> bool:
    """Whether the group's text stayed in place for most of the video."""
    span = group.last - group.first
    if group.counter and len(group.spellings) > 1 and len(group.frames) >= 2:
        return span >= COUNTER_SPAN * duration  # numbers changing in one place: a counter
    if measured and group.box is not None:  # the pixels tell, however often OCR read them
        return group.steady >= (STEADY_COUNTER if group.counter else STEADY)
    frequent = len(group.frames) >= max(2, PERSISTENT_SHARE * read)
    return frequent and span >= PERSISTENT_SPAN * duration


@dataclass
class ScreenText:
    """The on-screen text of one post, gathered video by video, then image by image."""

    settings: Settings
    picker: FramePicker | None = None  # chooses the page's frame among the looks, if given
    frames: int = 0  # looked at
    frames_sent: int = 0  # read by the engine for their text (billed, for Vision)
    picture_checks: int = 0  # read by the engine to check the page's frame (billed too)
    images: int = 0
    _merger: LineMerger = field(default_factory=LineMerger)
    _persistent: list[dict[str, Any]] = field(default_factory=list)

    def read_video(self, video: Path, offset: float = 0.0) -> None:
        """Reads the frames of `video` that show new text; `offset` (s) places its lines on the
        post's timeline (a carousel of several videos)."""
        from svp.media.frames import TextChanges, text_samples

        changes = TextChanges()
        picker = self.picker
        samples = text_samples(
            video,
            self.settings.ocr_interval_seconds,
            changes,
            None if picker is None else lambda sample, still: picker.look(sample, still, changes),
        )
        frames = ((round(s.seconds + offset, 2), s.frame) for s in samples)
        read = list(read_frames(frames, self.settings))  # lines only: a few per frame
        self.frames += changes.seen
        self.frames_sent += changes.sent
        groups, held = persistent_groups(read, changes.duration, changes.steady_share)
        if picker is not None:
            marks = [group.key for group in groups]
            picker.finish(video, offset, lambda frame: self._shows_text(frame, marks))
        for f, (seconds, lines) in enumerate(read):
            self._merger.add([s for i, s in enumerate(lines) if (f, i) not in held], seconds)
        for group in groups:
            self._keep_persistent(group)

    def _shows_text(self, frame: np.ndarray, marks: list[str]) -> bool:
        """Whether the engine reads text on `frame` other than the video's `marks` (the keys of
        its persistent groups) and counters: the page's picture should show the subject."""
        self.picture_checks += 1
        ((_, lines),) = read_frames([(0.0, frame)], self.settings)
        return any(
            len(key := _key(seen.text)) >= 2
            and not is_counter(seen.text)
            and not any(_similar(key, mark) for mark in marks)
            for seen in lines
        )

    def read_images(self, images: Iterable[tuple[int, np.ndarray]]) -> None:
        """Reads every image of a photo post, in post order (`image` is its index)."""
        for image, lines in read_frames(self._counted(images), self.settings):
            self._merger.add(lines, None, image)

    def _counted(self, images: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, Any]]:
        for item in images:
            self.images += 1
            self.frames_sent += 1
            yield item

    def _keep_persistent(self, group: _Group) -> None:
        text = group.spellings.most_common(1)[0][0]
        if any(_similar(_key(text), _key(p["text"])) for p in self._persistent):
            return  # the same watermark in another video of the post
        entry: dict[str, Any] = {"text": text, "seconds": group.first}
        if group.counter and len(group.spellings) > 1:
            entry["changing"] = True  # a counter or clock: the first reading stands for it
            entry["text"] = next(iter(group.spellings))
        self._persistent.append(entry)

    def lines(self) -> list[TextLine]:
        return self._merger.lines()

    def persistent(self) -> list[dict[str, Any]]:
        return list(self._persistent)
