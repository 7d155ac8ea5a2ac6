"""Fetch a post's media and metadata: yt-dlp for videos and carousels, gallery-dl for photo posts.

Every fetch is guarded (svp.media.urlguard): the link is checked before any request, and yt-dlp
and gallery-dl run in child processes whose only route out is the egress proxy, which checks
every connection again (redirects included). A refused URL fails the job once, with the reason.
The children get no secret and run under limits (svp.media.children); every file they report
must be a plain file inside the download folder.

What a post can be:
- a video (TikTok, Reels, Shorts, a direct file on an admitted host): one progressive file with
  audio, under SVP_MAX_MB and SVP_MAX_SECONDS, checked on the metadata before downloading;
- an image post: TikTok /photo/ posts (yt-dlp does not support them: gallery-dl does), TikTok
  slideshows (yt-dlp returns only their music: the images come from gallery-dl), Instagram
  image posts and carousels (yt-dlp returns a playlist whose image entries have no formats; the
  images are fetched in the same session), or a page of images on an admitted host
  (svp.media.images);
- a carousel mixing videos and images: both are kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from svp.config import Settings
from svp.errors import PermanentError, StageError, TransientError
from svp.media import childuser
from svp.media.children import LimitExceeded, Limits, limit_in_text, python_path, run_child
from svp.media.egress import EgressProxy
from svp.media.ffmpeg import NotAVideo, plain_file_problem
from svp.media.urlguard import (
    Connector,
    Policy,
    Refused,
    Resolver,
    check_url,
    system_resolve,
)

log = logging.getLogger("svp.download")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".heic", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".m4v", ".mkv"}


@dataclass
class Fetched:
    """What a link held: videos (the first is the one transcribed), images, metadata, and the
    platform's thumbnail of a video (the page's picture)."""

    videos: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    thumbnail: Path | None = None

    @property
    def kind(self) -> str:
        if self.videos and self.images:
            return "mixed"
        return "images" if self.images else "video"


def check_link(url: str, settings: Settings, resolve: Resolver = system_resolve) -> str:
    """The link as fetched, or Refused (permanent) before any request is made."""
    check_url(url, Policy.from_entries(settings.allowed_hosts), resolve, first=True)
    return url.strip()


def download(
    url: str,
    dest: Path,
    settings: Settings,
    resolve: Resolver = system_resolve,
    *,
    connect: Connector | None = None,
) -> Fetched:
    """The post at `url`, in `dest`. `resolve` and `connect` are the egress proxy's ways out
    to the network (tests keep both on loopback)."""
    url = check_link(url, settings, resolve)
    dest.mkdir(parents=True, exist_ok=True)
    if settings.cookies_file:
        # yt-dlp and gallery-dl write cookies back: give them a copy (the secret is read-only).
        source = Path(settings.cookies_file)
        if not source.is_file():
            raise PermanentError(f"SVP_COOKIES_FILE={settings.cookies_file!r} does not exist")
        copy = dest / ".cookies.txt"
        shutil.copyfile(source, copy)
        settings = dataclasses.replace(settings, cookies_file=str(copy))
    policy = Policy.from_entries(settings.allowed_hosts)
    with EgressProxy(policy, resolve, connect or socket.create_connection) as proxy:
        return files_inside(_fetch(url, dest, settings, proxy), dest)


def files_inside(fetched: Fetched, dest: Path) -> Fetched:
    """`fetched` when every file is a plain file in `dest`. The children write there, and what
    they report is read by ffprobe and OpenCV next: a symlink, a hard link or a path outside
    the folder would have them read a file the post never held."""
    for path in fetched.videos + fetched.images:
        if problem := plain_file_problem(path, dest):
            raise NotAVideo(f"not a video: the download left {path.name!r}, {problem}")
    if fetched.thumbnail and plain_file_problem(fetched.thumbnail, dest):
        fetched.thumbnail = None  # only a picture: the page does without it
    return fetched


def _refused(proxy: EgressProxy) -> None:
    """Raise the guard's first refusal, if any. Called when a download failed: the refusal is
    its reason. A download that succeeded although a side request was refused (a thumbnail on
    a private address, say) goes on; the refusal is logged by the proxy."""
    if proxy.refusals:
        raise Refused(proxy.refusals[0])


def _fetch(url: str, dest: Path, settings: Settings, proxy: EgressProxy) -> Fetched:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    tiktok = host == "tiktok.com" or host.endswith(".tiktok.com")
    instagram = host == "instagram.com" or host.endswith(".instagram.com")
    if tiktok and "/photo/" in parts.path:
        try:
            return _gallery(url, dest / "gallery", settings, proxy)
        except StageError:
            _refused(proxy)
            raise

    result = _run_ytdlp(url, dest, settings, proxy)
    if not result.get("ok"):
        _refused(proxy)  # whatever yt-dlp reported, a refusal by the guard is the reason
        error = result.get("error") or {}
        if _no_video_here(error):
            # A photo post, or a page of images on an admitted host.
            fallback = _images_fallback(url, dest, settings, proxy, platform=tiktok or instagram)
            if fallback is not None:
                return fallback
        raise classify(error, settings)

    fetched = files_inside(_collected(result, dest), dest)  # checked before anything reads them
    maybe_slideshow = tiktok and bool(fetched.videos) and not fetched.images
    if maybe_slideshow and _audio_only(fetched.videos[0], settings):
        # A TikTok slideshow under /video/: yt-dlp gets its music only; the images are the post.
        slides = _images_fallback(url, dest, settings, proxy, platform=True)
        if slides is not None and slides.images:
            slides.metadata = {**slides.metadata, **fetched.metadata}
            return slides
    if not fetched.videos and not fetched.images:
        raise PermanentError("the post has no video or images")
    return fetched


def _collected(result: dict[str, Any], dest: Path) -> Fetched:
    """The videos, images and subtitles the yt-dlp worker reported (subtitles outside `dest`
    are not the post's: not read)."""
    fetched = Fetched(metadata=dict(result.get("info") or {}))
    if result.get("thumbnail"):
        fetched.thumbnail = Path(result["thumbnail"])
    subtitles: dict[str, str] = {}
    for entry in result.get("entries") or []:
        path = Path(entry["path"])
        if entry["type"] == "image":
            fetched.images.append(path)
            continue
        fetched.videos.append(path)
        for lang, sub_path in (entry.get("subtitles") or {}).items():
            if plain_file_problem(Path(sub_path), dest) is None:
                subtitles.setdefault(lang, Path(sub_path).read_text(errors="replace"))
    fetched.metadata["subtitles"] = subtitles
    return fetched


def _images_fallback(
    url: str, dest: Path, settings: Settings, proxy: EgressProxy, *, platform: bool
) -> Fetched | None:
    """gallery-dl for the platforms, the page's own images on an admitted host; None if none."""
    since = len(proxy.refusals)
    try:
        if platform:
            fetched = _gallery(url, dest / "gallery", settings, proxy)
        else:
            from svp.media.images import FetchError, page_post

            try:
                post = page_post(
                    url,
                    dest / "page",
                    proxy.url,
                    max_images=settings.max_images,
                    max_bytes=settings.max_download_mb * 1024 * 1024,
                )
            except FetchError:
                post = None
            if post is None:
                return None
            fetched = Fetched(images=post.images, metadata={**post.metadata, "subtitles": {}})
    except StageError as exc:
        log.info("no images either: %s", exc.reason)
        return None
    if len(proxy.refusals) > since:
        log.warning("some images were refused: %s", proxy.refusals[since])
    return fetched if (fetched.images or fetched.videos) else None


def _run_downloader(
    command: list[str],
    proxy: EgressProxy,
    settings: Settings,
    what: str,
    dest: Path,
    reads: list[Path],
) -> subprocess.CompletedProcess:
    """A downloader child: the egress proxy is its only route out. Every proxy variable points
    at it (whatever NO_PROXY the parent has is not passed on), and where the kernel has
    Landlock network rules, a TCP connection to any other port is refused."""
    route = {name: proxy.url for name in ("http_proxy", "https_proxy", "all_proxy")}
    route.update({name.upper(): url for name, url in route.items()})
    env = {**route, "PYTHONPATH": python_path()}
    return run_child(
        command,
        what=what,
        limits=Limits.from_settings(settings),
        env=env,
        egress_port=urlsplit(proxy.url).port,  # the only TCP port it may connect to
        reads=reads,
        # The cookies file is download()'s copy: the child reads it and writes it back.
        writes=[dest, *([Path(settings.cookies_file)] if settings.cookies_file else [])],
    )


def _run_ytdlp(url: str, dest: Path, settings: Settings, proxy: EgressProxy) -> dict[str, Any]:
    job = {
        "url": url,
        "dest": str(dest),
        "proxy": proxy.url,
        "cookies_file": settings.cookies_file,
        "max_mb": settings.max_download_mb,
        "max_seconds": settings.max_seconds,
        "max_images": settings.max_images,
        "subtitles": settings.use_subtitles,
    }
    dest.mkdir(parents=True, exist_ok=True)
    job_file, result_file = dest / ".ytdlp-job.json", dest / ".ytdlp-result.json"
    job_file.write_text(json.dumps(job))
    result_file.unlink(missing_ok=True)
    python = childuser.python(settings.child_python)
    done = _run_downloader(
        [python, "-m", "svp.media.ytdlp_worker", str(job_file), str(result_file)],
        proxy,
        settings,
        "yt-dlp",
        dest,
        [job_file],
    )
    if not result_file.is_file():
        tail = (done.stderr or "").strip()[-400:]
        raise TransientError(f"yt-dlp stopped without a result (exit {done.returncode}): {tail}")
    result = json.loads(result_file.read_text())
    error = result.get("error") or {}
    reported = " ".join([str(error.get("message") or ""), *map(str, error.get("causes") or [])])
    if problem := limit_in_text("yt-dlp", Limits.from_settings(settings), reported):
        raise LimitExceeded(problem)
    return result


def _no_video_here(error: dict[str, Any]) -> bool:
    text = (error.get("message") or "").lower()
    return (
        error.get("cause") == "UnsupportedError"
        or "unsupported url" in text
        or "no video" in text
        or "no video formats" in text
        or "there is no video in this post" in text
    )


def _audio_only(path: Path, settings: Settings) -> bool:
    from svp.media.probe import probe

    try:
        return not probe(path, settings).has_video
    except PermanentError:
        return False


# -- gallery-dl --------------------------------------------------------------------------------
def _gallery(url: str, dest: Path, settings: Settings, proxy: EgressProxy) -> Fetched:
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        childuser.python(settings.child_python),
        "-m",
        "gallery_dl",
        "--config-ignore",
        "--no-input",
        "--proxy",
        proxy.url,
        "-D",
        str(dest),
        "--write-metadata",
        "--no-mtime",
        "--no-part",
        "--range",
        f"1-{settings.max_images}",
        "--filesize-max",
        f"{settings.max_download_mb}M",
        "--http-timeout",
        "20",
        "-R",
        "3",
        "--cache-file",
        str(dest / ".cache.sqlite3"),
        "-o",
        "extractor.tiktok.audio=false",
    ]
    if settings.cookies_file:
        command += ["-C", settings.cookies_file]
    command.append(url)
    done = _run_downloader(command, proxy, settings, "gallery-dl", dest, [])
    files = sorted(
        p for p in dest.iterdir() if not p.name.startswith(".") and not plain_file_problem(p, dest)
    )
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    if not images and not videos:
        message = (done.stderr or "").strip().splitlines()
        raise classify({"message": message[-1] if message else "no images found"}, settings)
    sidecars = [p for p in files if p.suffix == ".json"]
    raw = json.loads(sidecars[0].read_text()) if sidecars else {}
    metadata = {**gallery_metadata(raw, url), "subtitles": {}}
    return Fetched(videos=videos, images=images, metadata=metadata)


def gallery_metadata(raw: dict[str, Any], url: str) -> dict[str, Any]:
    """gallery-dl's per-file metadata (TikTok, Instagram or generic) in yt-dlp's field names."""
    author = raw.get("author") if isinstance(raw.get("author"), dict) else {}
    description = (
        raw.get("desc")  # TikTok
        or raw.get("description")  # Instagram, generic pages
        or raw.get("og_description")
        or ""
    )
    date = raw.get("date") or ""
    metadata = {
        "id": str(raw.get("id") or raw.get("post_shortcode") or ""),
        "title": raw.get("og_title") or raw.get("title") or description.split("\n")[0][:100],
        "description": description,
        "uploader": author.get("nickname")
        or raw.get("fullname")
        or raw.get("username")
        or raw.get("user")
        or author.get("uniqueId")
        or "",
        "uploader_id": author.get("uniqueId") or raw.get("username") or "",
        "upload_date": re.sub(r"\D", "", str(date))[:8],
        "thumbnail": "",
        "webpage_url": raw.get("pageurl") or url,
        "extractor_key": str(raw.get("category") or "gallery-dl").capitalize(),
    }
    return {k: v for k, v in metadata.items() if v}


# -- errors ------------------------------------------------------------------------------------
# What yt-dlp's request handlers raise for a URL they cannot even send (a crafted redirect).
_MALFORMED_LINK = {
    "UnicodeError",
    "UnicodeEncodeError",
    "ValueError",
    "InvalidURL",
    "LocationParseError",
    "LocationValueError",
}


def classify(error: dict[str, Any], settings: Settings) -> StageError:
    """A download failure as a reason a person can act on: permanent, or transient (retried).
    The first rule that recognises the failure words the reason."""
    failure = _Failure.of(error, settings)
    for rule in _RULES:
        if (reason := rule(failure)) is not None:
            return reason
    if failure.status and 400 <= failure.status < 500:
        return PermanentError(
            f"the site refused the download (HTTP {failure.status}): {failure.text}"
        )
    return TransientError(failure.text or "the download failed")


@dataclass(frozen=True)
class _Failure:
    """yt-dlp's error report, read once: its kind, message, HTTP status and causes."""

    error: dict[str, Any]
    settings: Settings
    text: str
    lowered: str
    status: int | None

    @classmethod
    def of(cls, error: dict[str, Any], settings: Settings) -> _Failure:
        text = re.sub(r"^ERROR:\s*", "", (error.get("message") or "").strip())
        text = re.sub(r"\s*\(caused by .*", "", text, flags=re.S)
        status = error.get("status")
        if status is None and (found := re.search(r"http error (\d{3})", text.lower())):
            status = int(found.group(1))
        return cls(error, settings, text, text.lower(), status)

    def says(self, pattern: str) -> bool:
        return re.search(pattern, self.lowered) is not None

    @property
    def cookies_hint(self) -> str:
        return "" if self.settings.cookies_file else " (a cookies file, SVP_COOKIES_FILE, may help)"

    def login_required(self) -> PermanentError:
        return PermanentError(
            "the site requires a login: set SVP_COOKIES_FILE to a cookies file exported from a"
            f" logged-in browser ({self.text})"
        )


def _limits(f: _Failure) -> StageError | None:
    kind, settings = f.error.get("kind"), f.settings
    if kind == "too_long":
        return PermanentError(
            f"the video lasts {f.error['seconds']:.0f} s, over the {settings.max_seconds} s limit"
            " (SVP_MAX_SECONDS)"
        )
    if kind == "too_large":
        size = f" ({f.error['bytes'] / 1e6:.0f} MB)" if f.error.get("bytes") else ""
        return PermanentError(
            f"the video is larger than the {settings.max_download_mb} MB limit{size} (SVP_MAX_MB)"
        )
    if kind == "empty":
        return PermanentError("nothing to download at this link")
    return None


def _unreadable_link(f: _Failure) -> StageError | None:
    if f.says(r"no connection adapters|unsupported url scheme|unsupported scheme"):
        return Refused(f"refused: the link redirects to a non-http(s) address ({f.text})")
    if _MALFORMED_LINK.intersection(f.error.get("causes") or []):
        return PermanentError(
            "not a supported link: the site sends the download to a link that cannot be read"
            f" ({f.text})"
        )
    return None


def _crash_or_unsupported(f: _Failure) -> StageError | None:
    if f.error.get("kind") == "crash":
        return TransientError(f"the downloader crashed, will retry: {f.text}")
    if f.error.get("cause") == "UnsupportedError" or "unsupported url" in f.lowered:
        return PermanentError(f"this site or link is not supported: {f.text}")
    return None


def _blocked(f: _Failure) -> StageError | None:
    blocked = (
        r"rate.?limit|too many requests|ip address is blocked|not a bot|blocked from|"
        r"temporarily (blocked|unavailable)|try again later"
    )
    if f.status != 429 and not f.says(blocked):
        return None
    if "login required" in f.lowered and not f.settings.cookies_file:
        return f.login_required()
    return TransientError(
        f"the site is rate-limiting or blocking this server's IP, will retry{f.cookies_hint}: "
        f"{f.text}"
    )


def _server_failing(f: _Failure) -> StageError | None:
    if f.status and f.status >= 500:
        return TransientError(f"the site is unreachable or failing, will retry: {f.text}")
    return None


def _login_or_private(f: _Failure) -> StageError | None:
    if f.says(r"log ?in|sign in|cookies|authenticat|age.?restricted|confirm your age"):
        return f.login_required()
    if "private" in f.lowered:
        return PermanentError(f"the video is private: {f.text}")
    return None


def _gone(f: _Failure) -> StageError | None:
    gone = (
        r"not found|removed|deleted|no longer available|unavailable|does not exist|"
        r"isn't available|is not available"
    )
    if f.status in (404, 410) or f.says(gone):
        return PermanentError(f"the video was not found (removed or a wrong link): {f.text}")
    return None


def _unreachable(f: _Failure) -> StageError | None:
    network = r"timed out|timeout|connection|temporar|network|reset by peer|name resolution"
    if f.error.get("transport") or f.says(network):
        return TransientError(f"the site is unreachable or failing, will retry: {f.text}")
    return None


# In order: the first that recognises a failure words it.
_RULES = (
    _limits,
    _unreadable_link,
    _crash_or_unsupported,
    _blocked,
    _server_failing,
    _login_or_private,
    _gone,
    _unreachable,
)
