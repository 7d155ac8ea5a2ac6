"""Images: fetched through the egress proxy, read from a web page, decoded for OCR.

`fetch` speaks HTTP to the guard's proxy with httpx (absolute-form requests for http, CONNECT
tunnels for https), redirects capped, the body capped while it streams, and no proxy variable
of the environment: every hop is checked before it is sent, and by the proxy.

`page_post` reads a page of images on an admitted host (self-hosted media; gallery-dl's generic
extractor cannot address a host with a port): its og:image / <img> images, in page order, and
its caption (og:description or description) and title.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import numpy as np

IMAGE_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
}


PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")


class FetchError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    url: str
    status: int
    content_type: str
    body: bytes


def fetch(
    url: str, proxy_url: str, *, max_bytes: int, timeout: float = 20.0, redirects: int = 5
) -> Response:
    """GET `url` through the proxy at `proxy_url`, following up to `redirects` redirects;
    every hop is checked here before it is sent (and again by the proxy), and the body is
    read up to `max_bytes`."""
    import httpx

    def check(request: httpx.Request) -> None:
        _check_hop(str(request.url))

    client = httpx.Client(
        proxy=proxy_url,
        trust_env=False,  # no proxy variable of the environment can route around the guard
        follow_redirects=True,
        max_redirects=redirects,
        timeout=timeout,
        headers={"User-Agent": "Mozilla/5.0 svp", "Accept": "*/*"},
        event_hooks={"request": [check]},
    )
    try:
        with client, client.stream("GET", _check_hop(url)) as response:
            return _read(response, max_bytes)
    except httpx.TooManyRedirects:
        raise FetchError(f"too many redirects: {url}") from None
    except httpx.ProxyError as exc:  # the proxy refused the tunnel (CONNECT ... 403)
        raise FetchError(f"refused by the egress proxy: {exc}", 403) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError) as exc:
        raise FetchError(f"not a supported link: {url[:200]!r} ({exc})") from None
    except httpx.RemoteProtocolError as exc:
        if "location header" in str(exc) or "illegal header" in str(exc):
            # A crafted redirect or answer that httpx cannot even read: refused.
            raise FetchError(f"not a supported link: {str(exc)[:200]}") from None
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:  # connection reset, timeout
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc


def _read(response, max_bytes: int) -> Response:
    if response.status_code >= 400:
        reason = ""
        if response.status_code == 403:  # the proxy's refusal says why
            reason = next(response.iter_bytes(300), b"")[:300].decode(errors="replace")
        text = f"HTTP Error {response.status_code}: {response.reason_phrase} {reason}"
        raise FetchError(text.strip(), response.status_code)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"over {max_bytes // (1024 * 1024)} MB: {response.url}")
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return Response(str(response.url), response.status_code, kind, bytes(body))


def _check_hop(url: str) -> str:
    """`url` if it may be fetched: http(s), no credentials, a host the guard can read (IDNA,
    a plain address); FetchError otherwise, before anything is sent."""
    from svp.media.urlguard import Refused, normalize_host

    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused: {url[:200]!r} is not an http(s) link")
        if parts.username is not None or parts.password is not None:
            raise FetchError(f"refused: {url[:200]!r} carries credentials")
        normalize_host(parts.hostname)
        _ = parts.port  # raises ValueError for a port out of range
    except Refused as exc:
        raise FetchError(exc.reason) from None
    except ValueError as exc:  # a crafted Location: refused like the guard refuses it
        raise FetchError(f"not a supported link: {url[:200]!r} ({exc})") from None
    return url


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.images: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])
                if key in ("og:image", "og:image:url", "og:image:secure_url", "twitter:image"):
                    self.images.append(values["content"])
        elif tag == "img":
            source = values.get("src") or (values.get("srcset") or "").split(" ")[0]
            if source and not source.startswith("data:"):
                self.images.append(source)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


@dataclass
class PagePost:
    images: list[Path]
    metadata: dict[str, str]


def page_post(
    url: str, dest: Path, proxy_url: str, *, max_images: int, max_bytes: int
) -> PagePost | None:
    """The images and caption of a web page (or a single image link); None if it has none."""
    page = fetch(url, proxy_url, max_bytes=max_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    if page.content_type in IMAGE_TYPES:
        path = dest / f"image-00{IMAGE_TYPES[page.content_type]}"
        path.write_bytes(page.body)
        return PagePost([path], {"title": Path(urlsplit(url).path).stem, "webpage_url": url})
    if "html" not in page.content_type:
        return None
    parser = _PageParser()
    parser.feed(page.body.decode("utf-8", errors="replace"))
    sources = list(dict.fromkeys(urljoin(page.url, html.unescape(s)) for s in parser.images))
    images: list[Path] = []
    seen: set[str] = set()
    for source in sources:
        if len(images) >= max_images:
            break
        try:
            image = fetch(source, proxy_url, max_bytes=max_bytes)
        except FetchError:
            continue
        digest = hashlib.sha1(image.body).hexdigest()
        if image.content_type not in IMAGE_TYPES or digest in seen:
            continue
        seen.add(digest)
        path = dest / f"image-{len(images):02d}{IMAGE_TYPES[image.content_type]}"
        path.write_bytes(image.body)
        images.append(path)
    if not images:
        return None
    meta = parser.meta
    caption = meta.get("og:description") or meta.get("description") or ""
    metadata = {
        "title": meta.get("og:title") or re.sub(r"\s+", " ", parser.title).strip(),
        "description": caption,
        "uploader": meta.get("author") or meta.get("og:site_name") or "",
        "thumbnail": urljoin(page.url, parser.images[0]) if parser.images else "",
        "webpage_url": page.url,
        "extractor_key": "Page",
    }
    return PagePost(images, {k: v for k, v in metadata.items() if v})


def read_image(path: Path) -> np.ndarray | None:
    """An image file as a BGR array (first frame of a GIF), or None if it cannot be decoded."""
    import cv2
    import numpy as np

    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is not None:
        return image
    try:  # formats OpenCV may lack (some WebP, GIF): Pillow, if present
        import numpy as np
        from PIL import Image

        # Only plain image formats: Pillow hands EPS to Ghostscript, and an image is the
        # downloader's word for whatever a stranger served.
        with Image.open(path, formats=PILLOW_FORMATS) as opened:
            rgb = np.asarray(opened.convert("RGB"))
        return np.ascontiguousarray(rgb[:, :, ::-1])
    except Exception:  # noqa: BLE001 - PIL raises many kinds for a file it cannot read
        return None
