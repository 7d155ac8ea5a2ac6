"""Which video a link is: `Extractor:id` as yt-dlp itself sees it, so one video saved under many
URL forms (a Short as /shorts/, youtu.be, watch?v=, /embed/, /live/; TikTok with any handle or
/share/video/; Instagram /p/, /reel/, /tv/) is recognised, and two videos never share a key.

`video_key_from_url` needs no network: yt-dlp's URL patterns give the id where the URL holds
it. A short link (vm.tiktok.com/...) keys on its own code until the download resolves it: the
downloaded info's `extractor_key` and `id` are the authority (`video_key_from_info`). Links to
sites yt-dlp has no extractor for key on the URL itself, minus only its fragment and the
tracking parameters that never select content.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query keys that only say who shared a link: exact names (never prefixes, which would drop
# `sid` or `signature`), plus the utm_ family.
TRACKING_KEYS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igsh", "igshid", "mc_cid", "mc_eid", "ref_src"}
)

# A YouTube link, the paths that name one video, and the query keys that only say which
# playlist it was opened from.
_YOUTUBE_HOST = re.compile(
    r"(^|\.)(youtube\.com|youtu\.be|youtube-nocookie\.com|youtubekids\.com)$"
)
_VIDEO_PATH = re.compile(r"/(shorts|embed|live|v|e)/[\w-]+")
_PLAYLIST_KEYS = frozenset({"list", "index", "start_radio", "pp"})


def video_key_from_url(url: str) -> str:
    """The video's key from its URL alone."""
    found = _extractor_id(without_playlist(url.strip()))
    return f"{found[0]}:{found[1]}" if found else url_key(url)


def without_playlist(url: str) -> str:
    """A YouTube link to a video opened from a playlist (`watch?v=A&list=P`, `/shorts/A?list=P`,
    `youtu.be/A?list=P`) without its playlist: the downloader fetches the video only
    (`noplaylist`), so the key is the video's, not `YoutubeTab:P` for every video of P. A link
    to the playlist itself (`/playlist?list=P`, `watch?list=P`) is left as it is."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url
    if not _YOUTUBE_HOST.search(host):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "list" for key, _ in query):
        return url
    names_video = (
        any(key == "v" and value for key, value in query)
        or host.endswith("youtu.be")
        or _VIDEO_PATH.match(parts.path) is not None
    )
    if not names_video:
        return url
    kept = [(key, value) for key, value in query if key not in _PLAYLIST_KEYS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def video_key_from_info(info: dict[str, Any], url: str) -> str:
    """The video's key from what the downloader learned (short links resolved)."""
    extractor, video_id = str(info.get("extractor_key") or ""), str(info.get("id") or "")
    if extractor and video_id and extractor.lower() not in ("generic", "gallery-dl"):
        return f"{extractor}:{video_id}"
    return video_key_from_url(str(info.get("webpage_url") or url))


def url_key(url: str) -> str:
    """A link yt-dlp has no extractor for, spelled one way: scheme and host in lower case,
    no default port, no fragment, no tracking parameters (other parameters keep their order:
    they may select the content)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"url:{url}"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"url:{url}"
    host = parts.hostname.lower()
    if port and port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        host = f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_KEYS and not key.lower().startswith("utm_")
    ]
    path = parts.path or "/"
    return "url:" + urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def _extractor_id(url: str) -> tuple[str, str] | None:
    for extractor in _extractors():
        if extractor.suitable(url):
            if extractor.ie_key() == "Generic":
                return None
            try:
                video_id = extractor.get_temp_id(url)
            except Exception:  # noqa: BLE001 - a pattern without an id group: key on the URL
                return None
            return (extractor.ie_key(), str(video_id)) if video_id else None
    return None


@cache
def _extractors() -> tuple[Any, ...]:
    """yt-dlp's extractor classes in yt-dlp's own order of precedence (its lazy classes: the
    full modules load only for a class that matches)."""
    from yt_dlp.extractor import gen_extractor_classes

    return tuple(gen_extractor_classes())
