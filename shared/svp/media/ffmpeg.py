"""ffprobe, ffmpeg and PyAV on files strangers chose: the file itself, and nothing else.

A media file can name other files: an HLS or DASH playlist names its segments
(`file:///etc/...`, `../../secret.ts`), a concat script names files, a mov data reference
points outside. ffprobe follows them (a "video" that was an HLS playlist made it open a local
file). So every input here is

- a plain file: not a symlink, not a hard link to another name, not a FIFO or device;
- opened as `file:` + its absolute path (a name like `concat:a|b` stays a file name);
- read with `-protocol_whitelist file` and `-format_whitelist` of the demuxers the product
  reads: mov (mp4, mov, m4a), matroska (mkv, webm), mp3, the image decoders, and flac (the
  audio this package writes itself). A playlist, a concat script, MPEG-TS or anything else
  fails to open: "not a video".

The processes run through svp.media.children (no secret in their environment, limits).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svp.errors import PermanentError
from svp.media.children import Limits, run_child

if TYPE_CHECKING:
    from svp.config import Settings

DEMUXERS = ("mov", "matroska", "mp3", "flac", "jpeg_pipe", "png_pipe", "webp_pipe", "gif")
READ_FORMATS = "mp4/mov, webm/matroska, m4a, mp3 or an image"
# First bytes of formats that name other files, for a refusal that says what the file was.
_REFERENCING = (
    (b"#EXTM3U", "an HLS playlist"),
    (b"ffconcat", "an ffmpeg concat script"),
    (b"<?xml", "an XML document (a DASH manifest?)"),
    (b"<MPD", "a DASH manifest"),
    (b"[playlist]", "a PLS playlist"),
    (b"#EXTINF", "an M3U playlist"),
)


class NotAVideo(PermanentError):
    """The file is not media the product reads, or not a plain file."""


def plain_file_problem(path: Path, root: Path | None = None) -> str | None:
    """Why `path` is not a plain file (under `root`, when given), or None."""
    try:
        info = path.lstat()
    except OSError:
        return "which is missing"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link to another file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink != 1:
        return "a hard link to another file"
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        return "outside its folder"
    return None


def checked_input(path: Path) -> str:
    """The `file:` URL ffmpeg is given for `path`, once `path` is known to be a plain file."""
    if problem := plain_file_problem(path):
        raise NotAVideo(f"not a video: {path.name!r} is {problem}")
    return "file:" + str(path.absolute())


def input_options() -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(DEMUXERS)]


def pyav_options() -> dict[str, str]:
    """The same restriction for PyAV's av.open(..., container_options=...)."""
    return {"protocol_whitelist": "file", "format_whitelist": ",".join(DEMUXERS)}


def open_container(path: Path) -> Any:
    """av.open on a plain file, with the demuxer and protocol allow-lists."""
    import av

    checked_input(path)
    try:
        return av.open(str(path.absolute()), container_options=pyav_options())
    except av.error.FFmpegError as exc:
        raise NotAVideo(
            f"not a video: {path.name!r} is {what_it_is(path)}, not {READ_FORMATS} ({exc})"
        ) from None


def what_it_is(path: Path) -> str:
    """A short description of a refused file, from its first bytes."""
    try:
        with path.open("rb") as file:
            head = file.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return "unreadable"
    for magic, name in _REFERENCING:
        if head.startswith(magic):
            return name
    return "not audio or video"


def probe_json(path: Path, settings: Settings | None = None) -> dict[str, Any]:
    """ffprobe's -show_format -show_streams answer for `path`, or NotAVideo."""
    source = checked_input(path)
    done = run_child(
        [
            "ffprobe",
            "-v",
            "error",
            *input_options(),
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            source,
        ],
        what="ffprobe",
        limits=Limits.from_settings(settings),
        reads=[path],
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unreadable"])[-1]
        detail = last.replace(f"{source}: ", "")
        raise NotAVideo(
            f"not a video: the downloaded file is {what_it_is(path)}, not {READ_FORMATS}"
            f" (ffprobe: {detail})"
        )
    return json.loads(done.stdout)


def run_ffmpeg(
    before_input: list[str],
    media: Path,
    after_input: list[str],
    what: str,
    settings: Settings | None = None,
    *,
    out: Path,
) -> None:
    """ffmpeg [before_input] -i media [after_input], writing `out` (named in after_input);
    PermanentError(`what`: its error)."""
    done = run_child(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            *before_input,
            *input_options(),
            "-i",
            checked_input(media),
            *after_input,
        ],
        what="ffmpeg",
        limits=Limits.from_settings(settings),
        reads=[media],
        writes=[out],
    )
    unreadable = ("not on whitelist", "Invalid data found when processing input")
    if done.returncode != 0 and any(text in done.stderr for text in unreadable):
        raise NotAVideo(f"not a video: {media.name!r} is {what_it_is(media)}, not {READ_FORMATS}")
    if done.returncode != 0:
        raise PermanentError(f"{what}: {done.stderr.strip()[-300:]}")
