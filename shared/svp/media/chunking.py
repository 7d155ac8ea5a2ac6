"""Long audio in pieces: where to cut, and how to join the pieces' transcripts.

Pieces are cut where nobody speaks when voice activity is known (a gap near the target length),
else at the target length; each piece overlaps the next by a few seconds so no word is lost at a
cut. Joining finds the longest run of words the end of one transcript shares with the start of
the next (tolerating a word clipped by the cut on either side and an engine that writes the same
words slightly differently) and keeps one copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SAFE_BYTES = 24 * 1024 * 1024  # the API takes 25 MB: headroom for the multipart upload
OVERLAP_SECONDS = 3.0
GAP_SEARCH_SECONDS = 30.0


@dataclass(frozen=True)
class Piece:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def max_piece_seconds(file_bytes: int, duration: float, threshold: float) -> float:
    """The longest piece under both the length threshold and the upload limit."""
    if duration <= 0 or file_bytes <= 0:
        return threshold
    by_size = SAFE_BYTES / (file_bytes / duration)
    return max(30.0, min(threshold, by_size))


def plan(
    duration: float,
    longest: float,
    speech: Sequence[tuple[float, float]] = (),
    overlap: float = OVERLAP_SECONDS,
) -> list[Piece]:
    """Pieces covering [0, duration], each at most `longest` s, overlapping by `overlap` s.

    `speech`: (start, end) spans of voice activity, if known; cuts go into the gaps between them.
    """
    if duration <= longest:
        return [Piece(0.0, duration)]
    pieces: list[Piece] = []
    start = 0.0
    while start < duration:
        target = start + longest - overlap
        if target >= duration - 1.0:
            pieces.append(Piece(start, duration))
            break
        cut = _quiet_point(speech, target, max(start + longest / 2, target - GAP_SEARCH_SECONDS))
        end = min(duration, cut + overlap)
        pieces.append(Piece(start, end))
        start = cut
    return pieces


def _quiet_point(speech: Sequence[tuple[float, float]], latest: float, earliest: float) -> float:
    """The latest moment in [earliest, latest] where nobody speaks; `latest` if there is none."""
    if not speech:
        return latest
    t = latest
    for begin, end in sorted(speech, reverse=True):
        if end < t:  # [end, t] is quiet: cut a little before t, the next words start there
            return max(earliest, t - min(0.5, (t - end) / 2))
        if begin <= t <= end:
            t = begin - 0.05
            if t < earliest:
                return latest
    return max(earliest, t - 0.5) if t >= earliest else latest


_WORD = re.compile(r"[^\w']+", re.UNICODE)


def _norm(word: str) -> str:
    return _WORD.sub("", word.lower())


def seam(previous: Sequence[str], following: Sequence[str], window: int = 40) -> tuple[int, int]:
    """(words to drop from the end of `previous`, words to drop from the start of `following`)
    so that the words both pieces heard at the overlap appear once.

    The best match is the longest run of words at the end of `previous` (give or take two
    clipped words) equal to a run at the start of `following` (give or take two), one differing
    word tolerated in runs of five or more. No match: nothing is dropped.
    """
    a = [_norm(w) for w in previous[-window:]]
    b = [_norm(w) for w in following[:window]]
    best: tuple[int, int, int] = (0, 0, 0)  # (run length, drop from a, drop from b)
    for i in range(0, min(3, len(a))):  # words clipped at the end of `previous`
        tail = a[: len(a) - i]
        for j in range(0, min(3, len(b))):  # words clipped at the start of `following`
            head = b[j:]
            for k in range(min(len(tail), len(head)), 1, -1):
                if k <= best[0]:
                    break
                misses = sum(x != y for x, y in zip(tail[-k:], head[:k], strict=True))
                if misses == 0 or (k >= 5 and misses <= 1):
                    best = (k, i, j)
                    break
    run, drop_a, drop_b = best
    if run == 0:
        return 0, 0
    # Keep the following piece's copy of the run: it heard those words with what follows them
    # (the earlier piece's punctuation at a cut is a guess).
    return drop_a + run, drop_b


def join_texts(texts: Sequence[str]) -> str:
    words: list[str] = []
    for text in texts:
        following = text.split()
        if words and following:
            drop_end, drop_start = seam(words, following)
            if drop_end:
                del words[-drop_end:]
            following = following[drop_start:]
        words += following
    return " ".join(words)


def join_segments(
    pieces: Sequence[Piece],
    segments: Sequence[Sequence[dict]],
    speech: Sequence[tuple[float, float]] = (),
) -> list[list[dict]]:
    """Each piece's segments on the whole audio's timeline, as one list per piece.

    Where a cut fell in a pause (known from `speech`), whatever the earlier piece heard after
    the cut is the start of the next piece's first words, cut off: segments of the earlier
    piece that end after the cut are dropped (segment ends are reliable; Whisper's start
    times after a long silence are not). Elsewhere the earlier piece keeps what starts before
    the cut and `join_texts` removes the words heard twice.
    """
    kept: list[list[dict]] = []
    for index, (piece, items) in enumerate(zip(pieces, segments, strict=True)):
        upper = pieces[index + 1].start if index + 1 < len(pieces) else float("inf")
        quiet = bool(speech) and not any(s < upper < e for s, e in speech)
        placed = [
            {
                "start": round(piece.start + segment["start"], 2),
                "end": round(piece.start + segment["end"], 2),
                "text": segment["text"],
            }
            for segment in items
        ]
        if quiet:
            kept.append([seg for seg in placed if seg["end"] <= upper + 0.3])
        else:
            kept.append([seg for seg in placed if seg["start"] < upper])
    return kept


def snap_starts(segments: list[dict], speech: Sequence[tuple[float, float]]) -> list[dict]:
    """A segment that starts long before the speech it ends in (Whisper stretching over a
    silence the voice detector skipped) starts where that speech starts."""
    for segment in segments:
        for begin, end in speech:
            if begin <= segment["end"] <= end + 0.5 and segment["start"] < begin - 1.0:
                segment["start"] = round(begin, 2)
                break
    return segments
