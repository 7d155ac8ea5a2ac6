"""The same-video key of each URL form (svp.media.identity, yt-dlp's own extractors, no
network): forms of one video must share one key, different videos must never share one.
Prints the table, then the count of forms, keys, splits and collisions.
Usage: python bench/identity.py
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.media.identity import video_key_from_url  # noqa: E402

SHORT = "dQw4w9WgXcQ"
TIKTOK = "7234567890123456789"
REEL = "Cabcdef123"
# video -> its URL forms
FORMS = {
    "YouTube Short": [
        f"https://www.youtube.com/shorts/{SHORT}",
        f"https://youtube.com/shorts/{SHORT}?si=abc",
        f"https://m.youtube.com/shorts/{SHORT}",
        f"https://youtu.be/{SHORT}",
        f"https://youtu.be/{SHORT}?si=shared&t=3",
        f"https://www.youtube.com/watch?v={SHORT}",
        f"https://www.youtube.com/watch?v={SHORT}&feature=share&pp=x",
        f"https://m.youtube.com/watch?v={SHORT}",
        f"https://music.youtube.com/watch?v={SHORT}",
        f"https://www.youtube.com/embed/{SHORT}",
        f"https://www.youtube-nocookie.com/embed/{SHORT}",
        f"https://www.youtube.com/live/{SHORT}",
        f"https://www.youtube.com/v/{SHORT}",
        f"https://youtube.com/watch?feature=share&v={SHORT}",
        f"http://www.youtube.com/watch?v={SHORT}",
        f"https://www.youtube.com/watch/{SHORT}",
        f"https://www.youtube.com/e/{SHORT}",
        f"https://youtube.com/shorts/{SHORT}/",
        f"https://www.youtube.com/attribution_link?u=/watch%3Fv%3D{SHORT}",
    ],
    "other YouTube video A": [
        "https://youtube.com/#/watch?v=AAAAAAAAAAA",
        "https://www.youtube.com/watch#!v=AAAAAAAAAAA",
        "https://www.youtube.com/watch?v=AAAAAAAAAAA&v=BBBBBBBBBBB",
    ],
    "other YouTube video B": [
        "https://youtube.com/#/watch?v=BBBBBBBBBBB",
        "https://www.youtube.com/watch#!v=BBBBBBBBBBB",
        "https://www.youtube.com/watch?v=BBBBBBBBBBB&v=AAAAAAAAAAA",
    ],
    "TikTok video": [
        f"https://www.tiktok.com/@Chef/video/{TIKTOK}",
        f"https://www.tiktok.com/@chef/video/{TIKTOK}",
        f"https://www.tiktok.com/@chef/video/{TIKTOK}?is_from_webapp=1&sender_device=pc",
        f"https://m.tiktok.com/@chef/video/{TIKTOK}",
        f"https://www.tiktok.com/share/video/{TIKTOK}",
        f"https://www.tiktok.com/@other/video/{TIKTOK}",
    ],
    "Instagram reel": [
        f"https://www.instagram.com/reel/{REEL}/",
        f"https://www.instagram.com/reel/{REEL}/?igsh=xyz",
        f"https://www.instagram.com/reels/{REEL}/",
        f"https://www.instagram.com/p/{REEL}/",
        f"https://www.instagram.com/p/{REEL}/?img_index=2",
        f"https://www.instagram.com/tv/{REEL}",
        f"https://instagram.com/p/{REEL}",
        f"https://www.instagram.com/chef/p/{REEL}/",
    ],
    "self-hosted clip": [
        "http://127.0.0.1:8000/clips/a.mp4",
        "http://127.0.0.1:8000/clips/a.mp4#t=3",
        "HTTP://127.0.0.1:8000/clips/a.mp4?utm_source=x&fbclid=y",
    ],
    "self-hosted, sid=1": ["http://127.0.0.1:8000/v?sid=1"],
    "self-hosted, sid=2": ["http://127.0.0.1:8000/v?sid=2"],
}
# Resolved only by the download (the downloaded info's extractor_key and id are the
# authority): shown with the key they have before it.
SHORT_LINKS = ["https://vm.tiktok.com/ZMabcdef/", "https://www.tiktok.com/t/ZTabcdef/"]


def main() -> None:
    keys_of: dict[str, set[str]] = defaultdict(set)
    videos_of: dict[str, set[str]] = defaultdict(set)
    print("| video | URL form | key |\n|---|---|---|")
    for video, urls in FORMS.items():
        for url in urls:
            key = video_key_from_url(url)
            keys_of[video].add(key)
            videos_of[key].add(video)
            print(f"| {video} | `{url}` | `{key}` |")
    for url in SHORT_LINKS:
        print(f"| (short link, resolved by the download) | `{url}` | `{video_key_from_url(url)}` |")
    forms = sum(len(urls) for urls in FORMS.values())
    splits = {v: k for v, k in keys_of.items() if len(k) > 1}
    collisions = {k: v for k, v in videos_of.items() if len(v) > 1}
    print(
        f"\n{forms} URL forms of {len(FORMS)} videos: {len(videos_of)} keys; "
        f"{len(splits)} videos with more than one key, {len(collisions)} keys shared by "
        f"different videos"
    )
    for video, keys in splits.items():
        print(f"  split: {video}: {sorted(keys)}")
    for key, videos in collisions.items():
        print(f"  collision: {key}: {sorted(videos)}")


if __name__ == "__main__":
    main()
