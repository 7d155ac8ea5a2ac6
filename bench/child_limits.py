"""How much address space (RLIMIT_AS) each child process needs, against SVP_CHILD_MEMORY_MB.

The children do real work on bench/memory.py's 3-minute 1080x1920 clip, on loopback only:
yt-dlp downloads it from a local server through the egress proxy, gallery-dl reads a page of
images there (its generic extractor), ffprobe probes it, ffmpeg extracts its audio and cuts a
30-second piece of that audio. For each, the smallest SVP_CHILD_MEMORY_MB it succeeds under is
found by bisection (8 MB steps), each step a fresh run; printed with the peak resident memory
of a run at the default limit, and the default as a multiple of the smallest (the headroom).
Address space is not memory used: thread stacks and libraries' reservations count in full,
which is why the limit must sit well above the resident figure.
Usage: python bench/child_limits.py
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.config import Settings  # noqa: E402

CHILDREN = ("yt-dlp", "gallery-dl", "ffprobe", "ffmpeg audio", "ffmpeg cut")


def run_one(name: str, memory_mb: int, folder: Path, port: int) -> bool:
    """One child run under `memory_mb`; True when it did its work."""
    from svp.errors import StageError

    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=folder,
        child_memory_mb=memory_mb,
        max_download_mb=500,
        allowed_hosts=(f"127.0.0.1:{port}",),
    )
    work = Path(tempfile.mkdtemp(dir=folder))
    try:
        if name == "yt-dlp":
            from svp.media.download import download

            return bool(download(f"{base}/clip.mp4", work, settings).videos)
        if name == "gallery-dl":
            return gallery(base, work, settings)
        if name == "ffprobe":
            from svp.media.probe import probe

            return probe(folder / "clip.mp4", settings).has_video
        if name == "ffmpeg audio":
            from svp.media.audio import extract_audio

            return extract_audio(folder / "clip.mp4", work / "a.flac", settings).exists()
        from svp.media.audio import cut

        return cut(folder / "audio.flac", 60, 30, work / "piece.flac", settings).exists()
    except StageError:
        return False


def gallery(base: str, work: Path, settings: Settings) -> bool:
    from svp.media.children import Limits, python_path, run_child
    from svp.media.urlguard import EgressProxy, Policy

    with EgressProxy(Policy.from_entries(settings.allowed_hosts)) as proxy:
        done = run_child(
            [
                sys.executable,
                "-m",
                "gallery_dl",
                "--config-ignore",
                "--proxy",
                proxy.url,
                "-D",
                str(work),
                f"generic:{base}/post.html",
            ],
            what="gallery-dl",
            limits=Limits.from_settings(settings),
            env={"PYTHONPATH": python_path()},
        )
    return done.returncode == 0 and len(list(work.glob("*.png"))) == 3


def measure(name: str, memory_mb: int, folder: Path, port: int) -> tuple[bool, int]:
    """A fresh interpreter runs the child once: (worked, peak RSS of the child in MB)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, str(memory_mb), str(folder), str(port)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        worked, rss_kb = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return False, 0
    return worked, rss_kb // 1024


def smallest(name: str, folder: Path, port: int) -> int:
    low, high = 8, 8192  # fails at low (checked below), works at high
    if not measure(name, high, folder, port)[0]:
        raise SystemExit(f"{name} fails even with {high} MB")
    while high - low > 8:
        middle = (low + high) // 2
        if measure(name, middle, folder, port)[0]:
            high = middle
        else:
            low = middle
    return high


def prepare(folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from memory import clip

    from tests.clipgen import FONT

    (folder / "clip.mp4").write_bytes(clip().read_bytes())
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(folder / "clip.mp4"),
            "-vn",
            "-ac",
            "1",
            "-ar",
            "16000",
            str(folder / "audio.flac"),
        ],
        check=True,
    )
    for i in range(3):
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "color=c=0x2d4a6b:size=720x960",
                "-frames:v",
                "1",
                "-vf",
                f"drawtext=fontfile={FONT}:text='Slide {i}':fontsize=56:fontcolor=white",
                str(folder / f"slide{i}.png"),
            ],
            check=True,
        )
    images = "".join(f'<img src="slide{i}.png">' for i in range(3))
    (folder / "post.html").write_text(f"<html><body>{images}</body></html>")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        import resource

        name, memory_mb, folder, port = (
            sys.argv[2],
            int(sys.argv[3]),
            Path(sys.argv[4]),
            sys.argv[5],
        )
        worked = run_one(name, memory_mb, folder, int(port))
        print(json.dumps([worked, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
        return
    folder = Path(tempfile.mkdtemp(prefix="svp-child-limits-"))
    prepare(folder)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    default = Settings().child_memory_mb
    size = (folder / "clip.mp4").stat().st_size / 1e6
    print(f"clip: 180 s, 1080x1920, {size:.0f} MB; default SVP_CHILD_MEMORY_MB={default}")
    print(f"{'child':<14}{'smallest limit that works':>27}{'peak RSS':>10}{'headroom':>10}")
    for name in CHILDREN:
        least = smallest(name, folder, port)
        worked, rss = measure(name, default, folder, port)
        assert worked, f"{name} fails at the default limit"
        print(f"{name:<14}{least:>24} MB{rss:>7} MB{default / least:>9.1f}x")
    server.shutdown()


if __name__ == "__main__":
    main()
