"""The malicious child: a stand-in for each of yt-dlp, gallery-dl, ffmpeg and ffprobe attacks
the parent (issue 20, items 1-3).

Each stand-in runs where the real program would (a yt-dlp extractor plugin inside the real
worker, a `gallery_dl` package ahead of the real one, `ffprobe` / `ffmpeg` scripts first on
PATH) and plays one attack per run, read from a file:

- "read": open the parent's /proc/<pid>/environ, maps and mem; signal the parent; connect to a
  loopback canary over TCP and UDP; open files past the limit and raise the limit;
- "fork": start more processes than the limit;
- "setsid": start a descendant that leaves the process group with setsid() and outlives the
  stand-in's own wait, which passes the timeout.

Every attempt must be refused or ended, and the canary must count 0 connections. These tests
run as root here and in CI (the harder case: a root child with CAP_SYS_PTRACE would read a
non-dumpable parent), and fail, never skip, where a mechanism is missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from svp.config import load_settings
from svp.errors import PermanentError, StageError
from svp.media.children import LimitExceeded, Limits, run_child
from svp.media.sandbox import isolation_report

CHILDREN = ("yt-dlp", "gallery-dl", "ffprobe", "ffmpeg")
TIMEOUT = 4  # seconds, SVP_CHILD_TIMEOUT_SECONDS for these runs

ATTACK = """
import ctypes, json, os, resource, socket, sys, time

PARENT, CANARY, MODE_FILE, OUT = {parent}, {canary}, {mode_file!r}, {out!r}
mode = open(MODE_FILE).read().strip()
seen = {{}}


def save():
    with open(OUT + ".tmp", "w") as file:
        json.dump(seen, file)
    os.replace(OUT + ".tmp", OUT)


def attempt(name, action):
    try:
        seen[name] = ["done", str(action())[:80]]
    except BaseException as exc:
        seen[name] = ["refused", type(exc).__name__ + ": " + str(exc)[:120]]
    save()


def read(what):
    with open(f"/proc/{{PARENT}}/{{what}}", "rb") as file:
        return file.read(64)


def tcp():
    with socket.create_connection(("127.0.0.1", CANARY), timeout=2):
        return "connected"


def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return sock.sendto(b"x", ("127.0.0.1", CANARY))


def files():
    opened = []
    try:
        while len(opened) < 100000:
            opened.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        raise OSError(exc.errno, f"after {{len(opened)}} files: {{exc.strerror}}") from None
    finally:
        for fd in opened:
            os.close(fd)
    return len(opened)


def raise_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 20, 1 << 20))
    return "raised"


if mode == "read":
    for what in ("environ", "maps", "mem"):
        attempt(what, lambda: read(what))
    attempt("signal", lambda: os.kill(PARENT, 0))
    attempt("tcp", tcp)
    attempt("udp", udp)
    attempt("files", files)
    attempt("raise_files", raise_files)
elif mode == "fork":
    seen["pids"] = []
    for _ in range(100):
        pid = os.fork()
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        seen["pids"].append(pid)
        save()
    time.sleep(600)
elif mode == "setsid":
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:  # a daemon: its parent exits, it is nobody's child but init's
            seen["daemon"] = os.getpid()
            save()
            time.sleep(600)
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(600)
"""


class Canary:
    """A loopback TCP server that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            client.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    yield server
    server.close()


@pytest.fixture
def attack(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: Canary, clips: Path):
    """attack(child, mode) -> what the stand-in saw, and the exception its run ended with."""
    monkeypatch.setenv("NOTION_TOKEN", "secret_notion_0123456789")
    monkeypatch.setenv("SVP_CHILD_TIMEOUT_SECONDS", str(TIMEOUT))
    mode_file = tmp_path / "mode"
    script = tmp_path / "attack.py"

    def out(child: str) -> Path:
        return tmp_path / f"{child}.json"

    def write_script(child: str) -> None:
        script.write_text(
            ATTACK.format(
                parent=os.getpid(),
                canary=canary.port,
                mode_file=str(mode_file),
                out=str(out(child)),
            )
        )

    # yt-dlp: an extractor plugin that the real worker loads.
    plugin = tmp_path / "plugins" / "yt_dlp_plugins" / "extractor"
    plugin.mkdir(parents=True)
    (plugin / "attack.py").write_text(
        textwrap.dedent(f"""
        import runpy
        from yt_dlp.extractor.common import InfoExtractor
        from yt_dlp.utils import ExtractorError

        class AttackIE(InfoExtractor):
            _VALID_URL = r"http://127\\.0\\.0\\.1:9/attack/(?P<id>\\w+)"

            def _real_extract(self, url):
                runpy.run_path({str(script)!r})
                raise ExtractorError("attack played", expected=True)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    # gallery-dl: a package ahead of the real one.
    package = tmp_path / "stand-in" / "gallery_dl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(f"import runpy\nrunpy.run_path({str(script)!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path / "stand-in"))
    # ffprobe and ffmpeg: scripts first on PATH.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ffprobe", "ffmpeg"):
        stand_in = bin_dir / name
        run = f"import runpy\nrunpy.run_path({str(script)!r})\nraise SystemExit(1)\n"
        stand_in.write_text(f"#!{sys.executable}\n{run}")
        stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SVP_ALLOWED_HOSTS", "127.0.0.1:9")

    def run(child: str, mode: str) -> tuple[dict, BaseException | None]:
        from svp.media.audio import extract_audio
        from svp.media.download import download
        from svp.media.probe import probe

        mode_file.write_text(mode)
        write_script(child)
        out(child).unlink(missing_ok=True)
        settings = load_settings(dotenv=None)
        dest = tmp_path / f"dl-{child}-{mode}"
        calls: dict[str, Callable[[], object]] = {
            "yt-dlp": lambda: download("http://127.0.0.1:9/attack/x", dest, settings),
            "gallery-dl": lambda: download(
                "https://www.tiktok.com/@a/photo/7301234567890123456",
                dest,
                settings,
                lambda host, port: ["93.184.216.34"],  # a decision only: nothing connects
            ),
            "ffprobe": lambda: probe(clips / "pasta.mp4", settings),
            "ffmpeg": lambda: extract_audio(clips / "pasta.mp4", tmp_path / "a.flac", settings),
        }
        ended: BaseException | None = None
        try:
            calls[child]()
        except (StageError, PermanentError) as exc:
            ended = exc
        seen = json.loads(out(child).read_text()) if out(child).exists() else {}
        return seen, ended

    return run


def gone(pid: int) -> bool:
    """Whether `pid` has ended (or is a zombie waiting for init), waiting a little."""
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
    return False


def test_every_mechanism_is_available_here():
    """These machines (and CI) offer every mechanism: a missing one fails here, by name."""
    run_child([sys.executable, "-c", "pass"], what="x", limits=Limits(60, 1024, 64, 60))
    report = isolation_report()
    assert report["missing"] == [], report["missing"]
    assert report["seccomp"] and report["landlock_abi"] >= 4 and report["subreaper"]
    assert report["parent_dumpable"] is False  # once a child started


def test_secrets_from_dotenv_go_to_the_settings_not_the_environment(tmp_path, monkeypatch):
    """What .env holds is never in os.environ, so never in a child's view; what the real
    environment held stays in /proc/<pid>/environ, which non-dumpable closes."""
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    (tmp_path / ".env").write_text("NOTION_TOKEN=secret_from_dotenv_0123456789\n")
    settings = load_settings(dotenv=tmp_path / ".env")
    assert settings.notion_token == "secret_from_dotenv_0123456789"
    assert "NOTION_TOKEN" not in os.environ
    assert "secret_from_dotenv" not in repr(dict(os.environ))


@pytest.mark.parametrize("child", CHILDREN)
def test_a_child_cannot_read_the_parent_signal_it_or_reach_the_canary(attack, canary, child):
    seen, _ = attack(child, "read")
    assert seen, f"the {child} stand-in did not run"
    for name in ("environ", "maps", "mem"):
        assert seen[name][0] == "refused", (name, seen[name])
        assert "PermissionError" in seen[name][1]
    assert seen["signal"][0] == "refused", seen["signal"]
    assert seen["tcp"][0] == "refused", seen["tcp"]
    assert seen["udp"][0] == "refused", seen["udp"]
    assert canary.connections == 0
    # Open files: refused at the limit, and the limit cannot be raised.
    assert seen["files"][0] == "refused" and "Too many open files" in seen["files"][1]
    opened = int(seen["files"][1].split("after ")[1].split(" ")[0])
    assert opened < Limits(1, 1, 1, 1).open_files
    assert seen["raise_files"][0] == "refused", seen["raise_files"]


@pytest.mark.parametrize("child", CHILDREN)
def test_a_child_that_forks_past_its_limit_is_refused_or_ended(attack, child):
    started = time.monotonic()
    seen, ended = attack(child, "fork")
    pids = seen.get("pids", [])
    assert pids, f"the {child} stand-in did not run"
    limit = Limits(1, 1, 1, 1).processes
    refused = len(pids) < 100 and not isinstance(ended, LimitExceeded)  # RLIMIT_NPROC
    if os.geteuid() == 0 or not refused:  # root is exempt from RLIMIT_NPROC: the count ends it
        assert isinstance(ended, LimitExceeded), ended
        assert f"started more than {limit} processes" in ended.reason
    assert time.monotonic() - started < TIMEOUT + 20
    assert all(gone(pid) for pid in pids)


@pytest.mark.parametrize("child", CHILDREN)
def test_a_descendant_that_called_setsid_ends_at_the_timeout(attack, child):
    started = time.monotonic()
    seen, ended = attack(child, "setsid")
    assert "daemon" in seen, f"the {child} stand-in did not run"
    assert isinstance(ended, LimitExceeded), ended
    assert f"did not finish within {TIMEOUT} s" in ended.reason
    assert time.monotonic() - started < TIMEOUT + 20
    assert gone(seen["daemon"]), "the setsid() descendant outlived the timeout"


def test_the_tree_is_found_with_or_without_the_kernels_children_lists():
    """The supervisor reads /proc/<pid>/task/<tid>/children; where a kernel has none (gVisor),
    every process's parent in /proc gives the same tree."""
    from svp.media.supervisor import descendants, descendants_by_scan

    started = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:  # a grandchild
                time.sleep(30)
            time.sleep(30)
            os._exit(0)
        started.append(pid)
    try:
        time.sleep(0.3)
        for pid in started:
            below = descendants(pid)
            assert len(below) == 1  # its grandchild
            assert descendants_by_scan(pid) == below
        assert set(started) <= set(descendants(os.getpid()))
        assert set(started) <= set(descendants_by_scan(os.getpid()))
    finally:  # only what this test started: the session may have servers of its own
        for pid in started:
            for below_it in [pid, *descendants(pid)]:
                os.kill(below_it, signal.SIGKILL)
            os.waitpid(pid, 0)
