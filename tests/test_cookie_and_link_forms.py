"""Issue 20, item 5: the Secure flag read from the redirect URI's host, the video's key for a
YouTube link opened from a playlist, and TikTok's and YouTube Kids' other hosts admitted."""

from __future__ import annotations

import pytest

from svp.api.app import secure_cookies
from svp.config import Settings
from svp.media.identity import video_key_from_url
from svp.media.urlguard import Policy, check_url


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8080/auth/notion/callback",
        "http://localhost:8080/auth/notion/callback",
        "http://[::1]:8080/auth/notion/callback",
        "HTTP://LOCALHOST/auth/notion/callback",
    ],
)
def test_plain_http_on_loopback_is_not_secure(redirect_uri):
    assert secure_cookies(Settings(notion_redirect_uri=redirect_uri)) is False


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost.attacker.example/auth/notion/callback",
        "http://127.0.0.1.attacker.example/auth/notion/callback",
        "http://localhost@attacker.example/auth/notion/callback",
        "http://[::1].attacker.example/",  # unparsable: Secure, the safe side
        "https://localhost:8080/auth/notion/callback",
        "https://svp.example/auth/notion/callback",
    ],
)
def test_anything_else_is_secure(redirect_uri):
    assert secure_cookies(Settings(notion_redirect_uri=redirect_uri)) is True


PLAYLIST = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list={PLAYLIST}",
        f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list={PLAYLIST}&index=3",
        f"https://m.youtube.com/watch?list={PLAYLIST}&v=dQw4w9WgXcQ",
        f"https://www.youtube.com/shorts/dQw4w9WgXcQ?list={PLAYLIST}",
        f"https://youtu.be/dQw4w9WgXcQ?list={PLAYLIST}",
        f"https://www.youtube.com/embed/dQw4w9WgXcQ?list={PLAYLIST}",
        "https://www.youtubekids.com/watch?v=dQw4w9WgXcQ",
    ],
)
def test_a_video_opened_from_a_playlist_gets_the_videos_key(url):
    assert video_key_from_url(url) == "Youtube:dQw4w9WgXcQ"


def test_two_videos_of_one_playlist_get_two_keys_and_the_playlist_keeps_its_own():
    first = video_key_from_url(f"https://www.youtube.com/watch?v=aaaaaaaaaaa&list={PLAYLIST}")
    second = video_key_from_url(f"https://www.youtube.com/watch?v=bbbbbbbbbbb&list={PLAYLIST}")
    assert first != second
    playlist = video_key_from_url(f"https://www.youtube.com/playlist?list={PLAYLIST}")
    assert playlist == f"YoutubeTab:{PLAYLIST}"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktokv.com/share/video/7301234567890123456",
        "https://www.youtubekids.com/watch?v=dQw4w9WgXcQ",
    ],
)
def test_tiktokv_and_youtube_kids_are_platforms(url):
    target = check_url(url, Policy(), lambda host, port: ["142.250.1.5"], first=True)
    assert target.host.startswith("www.")


def test_tiktokv_links_key_on_the_tiktok_video():
    url = "https://www.tiktokv.com/share/video/7301234567890123456"
    assert video_key_from_url(url) == "TikTok:7301234567890123456"
