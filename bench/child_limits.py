"""How much address space (RLIMIT_AS) each child process needs, against SVP_CHILD_MEMORY_MB.

The children do real work on bench/memory.py's 3-minute 1080x1920 clip, on loopback only:
yt-dlp downloads it from a local server through the egress proxy, gallery-dl starts and asks
for a TikTok photo post (refused by the proxy: it has no offline way to download), ffprobe
probes it, ffmpeg extracts its audio and cuts a
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
            return gallery(work, settings)
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


def gallery(work: Path, settings: Settings) -> bool:
    """gallery-dl's start-up and a TikTok photo request, refused by the egress proxy: its
    generic extractor cannot address a loopback port, and its real ones need the internet."""
    from svp.media.children import LimitExceeded, Limits, python_path, run_child
    from svp.media.egress import EgressProxy
    from svp.media.urlguard import Policy

    def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # refused by the policy: nothing leaves the machine

    url = "https://www.tiktok.com/@bench/photo/7301234567890123456"
    with EgressProxy(Policy(), loopback) as proxy:
        try:
            done = run_child(
                [
                    sys.executable,
                    "-m",
                    "gallery_dl",
                    "--config-ignore",
                    "--proxy",
                    proxy.url,
                    "-R",
                    "1",
                    "-D",
                    str(work),
                    url,
                ],
                what="gallery-dl",
                limits=Limits.from_settings(settings),
                env={"PYTHONPATH": python_path()},
                egress_port=int(proxy.url.rsplit(":", 1)[1]),
                writes=[work],
            )
        except LimitExceeded:
            return False
        refused = len(proxy.refusals) > 0
    return refused and "Traceback" not in done.stderr


def measure(name: str, memory_mb: int, folder: Path, port: int) -> tuple[bool, int, float]:
    """A fresh interpreter runs the child once: (worked, the child's peak RSS in MB, its CPU
    seconds)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, str(memory_mb), str(folder), str(port)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        worked, rss_kb, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return False, 0, 0.0
    return worked, rss_kb // 1024, cpu


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
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps([worked, used.ru_maxrss, used.ru_utime + used.ru_stime]))
        return
    folder = Path(tempfile.mkdtemp(prefix="svp-child-limits-"))
    prepare(folder)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a child stopped by its limit drops the connection: expected here

    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    defaults = Settings()
    default = defaults.child_memory_mb
    size = (folder / "clip.mp4").stat().st_size / 1e6
    print(
        f"clip: 180 s, 1080x1920, {size:.0f} MB; defaults SVP_CHILD_MEMORY_MB={default},"
        f" SVP_CHILD_CPU_SECONDS={defaults.child_cpu_seconds}"
    )
    print(
        f"{'child':<14}{'smallest limit that works':>27}{'peak RSS':>10}{'headroom':>10}{'CPU':>8}"
    )
    for name in CHILDREN:
        least = smallest(name, folder, port)
        worked, rss, cpu = measure(name, default, folder, port)
        assert worked, f"{name} fails at the default limit"
        print(f"{name:<14}{least:>24} MB{rss:>7} MB{default / least:>9.1f}x{cpu:>6.1f} s")
    server.shutdown()


if __name__ == "__main__":
    main()
