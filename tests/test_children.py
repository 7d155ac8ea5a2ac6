"""Children (yt-dlp, gallery-dl, ffprobe, ffmpeg): no secret in their environment, and limits.

The environment is read by a tiny script standing in for each child: a yt-dlp extractor plugin
(loaded by the real yt-dlp in its worker, as a hostile plugin would be), a `gallery_dl` package
ahead of the real one, and `ffprobe` / `ffmpeg` scripts first on PATH. The parent holds every
secret the functions may hold; none reaches a child.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from svp.config import load_settings
from svp.errors import PermanentError, StageError
from svp.media.children import KEPT_VARIABLES, LimitExceeded, Limits, run_child

SECRETS = {
    "NOTION_TOKEN": "secret_notion_0123456789",
    "SVP_ENCRYPTION_KEY": "fernet-key-0123456789abcdef",
    "OPENAI_API_KEY": "sk-openai-0123456789",
    "GEMINI_API_KEY": "gemini-0123456789",
    "SVP_LLM_API_KEY": "llm-0123456789",
    "NOTION_CLIENT_SECRET": "oauth-client-secret-0123456789",
    "SVP_SESSION_SECRET": "session-secret-0123456789",
    "NOTION_WEBHOOK_TOKEN": "webhook-token-0123456789",
    "AWS_SECRET_ACCESS_KEY": "aws-0123456789",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa.json",
    "SOME_FUTURE_SECRET": "future-0123456789",
}
ALLOWED = KEPT_VARIABLES | {"MALLOC_ARENA_MAX", "PYTHONPATH"}
PROXY_VARIABLES = {
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
}


@pytest.fixture
def secrets(env, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "*")  # would let a child bypass the egress proxy
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


def assert_clean(seen: dict[str, str], *, proxied: bool) -> None:
    extra = set(seen) - ALLOWED - PROXY_VARIABLES - {"LC_ALL", "PWD", "SHLVL", "_"}
    assert extra == set(), f"unexpected variables in the child: {sorted(extra)}"
    leaked = [v for v in SECRETS.values() if any(v in value for value in seen.values())]
    assert leaked == []
    assert "PATH" in seen and seen["LC_ALL"] == "C.UTF-8"
    if proxied:
        proxy = seen["https_proxy"]
        assert proxy.startswith("http://127.0.0.1:")
        assert all(seen[name] == proxy for name in PROXY_VARIABLES)
    else:
        assert not PROXY_VARIABLES & set(seen)


def test_a_yt_dlp_extractor_sees_no_secret(secrets, tmp_path, monkeypatch):
    """A plugin extractor runs inside the yt-dlp worker, as a hostile one would."""
    from svp.media.download import download

    out = tmp_path / "extractor-env.json"
    plugin = tmp_path / "plugins" / "yt_dlp_plugins" / "extractor"
    plugin.mkdir(parents=True)
    (plugin / "envdump.py").write_text(
        textwrap.dedent(f"""
        import json, os
        from yt_dlp.extractor.common import InfoExtractor
        from yt_dlp.utils import ExtractorError

        class EnvDumpIE(InfoExtractor):
            _VALID_URL = r"http://127\\.0\\.0\\.1:9/envdump/(?P<id>\\w+)"

            def _real_extract(self, url):
                with open({str(out)!r}, "w") as file:
                    json.dump(dict(os.environ), file)
                raise ExtractorError("the environment was read", expected=True)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", "127.0.0.1:9")
    with pytest.raises(StageError, match="the environment was read"):
        download("http://127.0.0.1:9/envdump/x", tmp_path / "dl", load_settings(dotenv=None))
    assert_clean(json.loads(out.read_text()), proxied=True)


def test_gallery_dl_sees_no_secret(secrets, tmp_path, monkeypatch):
    from svp.media.download import download

    out = tmp_path / "gallery-env.json"
    package = tmp_path / "stand-in" / "gallery_dl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        f"import json, os\njson.dump(dict(os.environ), open({str(out)!r}, 'w'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "stand-in"))

    def public(host: str, port: int) -> list[str]:  # a decision only: nothing connects
        return ["93.184.216.34"]

    settings = load_settings(dotenv=None)
    with pytest.raises(StageError):
        download(
            "https://www.tiktok.com/@a/photo/7301234567890123456", tmp_path / "dl", settings, public
        )
    assert_clean(json.loads(out.read_text()), proxied=True)


def test_ffprobe_and_ffmpeg_see_no_secret(secrets, tmp_path, monkeypatch, clips):
    from svp.media.audio import extract_audio
    from svp.media.probe import probe

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ffprobe", "ffmpeg"):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nenv > {tmp_path / name}.env\nexit 1\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PermanentError):
        probe(clips / "pasta.mp4")
    with pytest.raises(PermanentError):
        extract_audio(clips / "pasta.mp4", tmp_path / "a.flac")
    for name in ("ffprobe", "ffmpeg"):
        lines = (tmp_path / f"{name}.env").read_text().splitlines()
        assert_clean(dict(line.split("=", 1) for line in lines if "=" in line), proxied=False)


# -- limits ----------------------------------------------------------------------------------
GENEROUS = Limits(cpu_seconds=60, memory_mb=1024, file_mb=64, timeout_seconds=60)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_cpu_time_is_limited():
    limits = Limits(cpu_seconds=1, memory_mb=1024, file_mb=64, timeout_seconds=60)
    started = time.monotonic()
    with pytest.raises(
        LimitExceeded,
        match=r"spinner used more than 1 s of CPU time "
        r"\(SVP_CHILD_CPU_SECONDS\)",
    ):
        run_child(python("while True: pass"), what="spinner", limits=limits)
    assert time.monotonic() - started < 30  # seconds, on a busy machine


def test_memory_is_limited():
    limits = Limits(cpu_seconds=60, memory_mb=200, file_mb=64, timeout_seconds=60)
    with pytest.raises(
        LimitExceeded,
        match=r"hog ran out of its 200 MB of memory "
        r"\(SVP_CHILD_MEMORY_MB\)",
    ):
        run_child(python("block = bytearray(400 * 1024 * 1024)"), what="hog", limits=limits)
    assert (
        run_child(
            python("block = bytearray(50 * 1024 * 1024)"), what="hog", limits=limits
        ).returncode
        == 0
    )


def test_file_size_is_limited_for_python_and_for_ffmpeg(tmp_path):
    limits = Limits(cpu_seconds=60, memory_mb=1024, file_mb=2, timeout_seconds=60)
    with pytest.raises(
        LimitExceeded,
        match=r"writer tried to write a file over 2 MB "
        r"\(SVP_CHILD_FILE_MB\)",
    ):
        run_child(
            python(f"open({str(tmp_path / 'big')!r}, 'wb').write(bytes(3 << 20))"),
            what="writer",
            limits=limits,
        )
    with pytest.raises(LimitExceeded, match=r"ffmpeg tried to write a file over 2 MB"):
        run_child(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "sine=d=60",
                "-f",
                "s16le",
                str(tmp_path / "big.raw"),
            ],
            what="ffmpeg",
            limits=limits,
            writes=[tmp_path / "big.raw"],
        )
    assert (tmp_path / "big.raw").stat().st_size <= 2 << 20


def test_a_child_over_its_time_is_killed_with_everything_it_started(tmp_path):
    limits = Limits(cpu_seconds=60, memory_mb=1024, file_mb=64, timeout_seconds=1)
    pid_file = tmp_path / "grandchild"
    started = time.monotonic()
    with pytest.raises(
        LimitExceeded,
        match=r"sleeper did not finish within 1 s "
        r"\(SVP_CHILD_TIMEOUT_SECONDS\)",
    ):
        run_child(
            python(f"""
            import subprocess, time
            child = subprocess.Popen(["sleep", "60"])
            open({str(pid_file)!r}, "w").write(str(child.pid))
            time.sleep(60)
        """),
            what="sleeper",
            limits=limits,
        )
    assert time.monotonic() - started < 30  # seconds, on a busy machine
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # killed, then reaped by init
        if not Path(f"/proc/{grandchild}").exists() or _zombie(grandchild):
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the grandchild outlived the timeout")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def test_a_limit_hit_is_permanent_and_ordinary_failures_are_returned():
    assert issubclass(LimitExceeded, PermanentError)
    done = run_child(python("import sys; sys.exit(3)"), what="x", limits=GENEROUS)
    assert done.returncode == 3


@pytest.mark.slow
def test_a_download_that_takes_too_long_fails_the_link_once(env, monkeypatch, capsys):
    """A server that trickles bytes: yt-dlp is stopped at SVP_CHILD_TIMEOUT_SECONDS and the
    link fails for good, with the reason, instead of holding the function."""
    import http.server
    import threading

    from svp.cli import main as svp

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(10 << 20))
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"\0" * 1024)
                    time.sleep(0.05)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", f"127.0.0.1:{port}")
    monkeypatch.setenv("SVP_CHILD_TIMEOUT_SECONDS", "3")
    try:
        assert svp(["process", f"http://127.0.0.1:{port}/slow.mp4", "--tag", "cooking"]) == 1
    finally:
        server.shutdown()
    capsys.readouterr()
    assert svp(["jobs", "--failed", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert job["error"] == "yt-dlp did not finish within 3 s (SVP_CHILD_TIMEOUT_SECONDS)"
    assert job["stages"]["downloader"]["attempts"] == 1


def test_bad_child_limits_fail_configuration():
    from svp.config import ConfigError

    with pytest.raises(ConfigError, match="SVP_CHILD_MEMORY_MB='lots': must be a whole number"):
        load_settings({"SVP_CHILD_MEMORY_MB": "lots"}, dotenv=None)
    with pytest.raises(ConfigError, match="SVP_CHILD_FILE_MB must exceed SVP_MAX_MB"):
        load_settings({"SVP_CHILD_FILE_MB": "50", "SVP_MAX_MB": "100"}, dotenv=None)


@pytest.mark.skipif(os.geteuid() != 0, reason="children run as the parent's own user unless root")
def test_as_root_a_child_writes_only_where_it_was_handed_and_the_parent_gets_it_back():
    """The unprivileged uid writes in the folder it was handed, not beside it; afterwards what
    it made belongs to the parent's user again (another job's child, same uid, cannot change
    it), and an output file it never wrote is not left empty."""
    base = Path(tempfile.mkdtemp(prefix="svp-handed-"))
    try:
        base.chmod(0o755)
        dest, out = base / "dest", base / "never-written.flac"
        dest.mkdir()
        script = f"id -u > {dest}/who; mkdir {dest}/sub; : > {dest}/sub/made; : > {base}/beside"
        done = run_child(
            ["/bin/sh", "-c", script],
            what="writer",
            limits=Limits(60, 1024, 64, 60),
            writes=[dest, out],
        )
        assert "Permission denied" in done.stderr  # beside the folder: refused
        assert (dest / "who").read_text().strip() == "65534"
        owners = {p.name: p.stat().st_uid for p in [dest, *dest.rglob("*")]}
        assert owners == {"dest": 0, "who": 0, "sub": 0, "made": 0}
        assert not (base / "beside").exists() and not out.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_childrens_user_is_a_uid_and_gid_or_root():
    from svp.config import ConfigError

    assert load_settings({}, dotenv=None).child_user == (65534, 65534)
    assert load_settings({"SVP_CHILD_USER": "1000"}, dotenv=None).child_user == (1000, 1000)
    assert load_settings({"SVP_CHILD_USER": "root"}, dotenv=None).child_user is None
    with pytest.raises(ConfigError, match=r"SVP_CHILD_USER='0:0': .* \(0 is root: write root\)"):
        load_settings({"SVP_CHILD_USER": "0:0"}, dotenv=None)
    with pytest.raises(ConfigError, match=r"SVP_CHILD_USER='nobody': expects uid:gid numbers"):
        load_settings({"SVP_CHILD_USER": "nobody"}, dotenv=None)
