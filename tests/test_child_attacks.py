"""The malicious child: a stand-in for each of yt-dlp, gallery-dl, ffmpeg and ffprobe attacks
the parent (issue 20, items 1-3).

Each stand-in runs where the real program would (a yt-dlp extractor plugin inside the real
worker, a `gallery_dl` package ahead of the real one, `ffprobe` / `ffmpeg` scripts first on
PATH) and plays one attack per run, read from a file:

- "read": say who it runs as; open the parent's /proc/<pid>/environ, maps and mem and a file
  only the parent's user may read; signal the parent; connect to a loopback canary over TCP and
  UDP; open files past the limit and raise the limit;
- "fork": start more processes than the limit;
- "setsid": start a descendant that leaves the process group with setsid() and outlives the
  stand-in's own wait, which passes the timeout.

Every attempt must be refused or ended, and the canary must count 0 connections. These tests
run as root here and in CI (the harder case: a root child with CAP_SYS_PTRACE would read a
non-dumpable parent), and fail, never skip, where a kernel mechanism is missing.

As root, the children run as the unprivileged uid (Settings.child_user) where it can reach
them: everything here is built in a world-readable folder (pytest's own is closed to other
users), ffmpeg's and ffprobe's stand-ins run on an interpreter that uid can run, and so do
yt-dlp and gallery-dl (SVP_CHILD_PYTHON). The Python these tests run on lives under /root
(mode 700) on these machines: `reachable_python` finds another build of the same version.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from svp.config import Settings, load_settings
from svp.errors import PermanentError, StageError
from svp.media import childuser
from svp.media.children import LimitExceeded, Limits, run_child
from svp.media.sandbox import isolation_report

CHILDREN = ("yt-dlp", "gallery-dl", "ffprobe", "ffmpeg")
TIMEOUT = 4  # seconds, SVP_CHILD_TIMEOUT_SECONDS for these runs
ROOT = os.geteuid() == 0
USER = Settings().child_user or (65534, 65534)  # who the children run as when we are root

ATTACK = """
import ctypes, json, os, resource, socket, sys, time

PARENT, CANARY, MODE_FILE, OUT = {parent}, {canary}, {mode_file!r}, {out!r}
PRIVATE = {private!r}
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


def private():
    with open(PRIVATE) as file:
        return file.read()


if mode == "read":
    seen["ids"] = [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]
    seen["nproc"] = list(resource.getrlimit(resource.RLIMIT_NPROC))
    for what in ("environ", "maps", "mem"):
        attempt(what, lambda: read(what))
    attempt("private", private)
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


def _version(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture(scope="session")
def reachable_python() -> tuple[str | None, str]:
    """(an interpreter of this Python's version that the children's uid can run, or None;
    why not). Not root: ours, the children run as our user anyway."""
    if not ROOT:
        return sys.executable, ""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": childuser.python_path()}
    wanted = "{} {}".format(*sys.version_info[:2])
    minor = "{}.{}".format(*sys.version_info[:2])
    reasons = []
    for python in dict.fromkeys(
        [sys.executable, f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"]
    ):
        reason = childuser.obstacle(USER, [python], env)
        if reason is None and _version(python) != wanted:
            reason = f"{python} is not Python {minor}"
        if reason is None:
            return python, ""
        reasons.append(reason)
    return None, "; ".join(reasons)


@pytest.fixture
def child_python(reachable_python, monkeypatch: pytest.MonkeyPatch) -> str:
    """SVP_CHILD_PYTHON set to an interpreter the children's uid can run, where there is one;
    else ours (the Python children then run as root without capabilities)."""
    python, _ = reachable_python
    if python:
        monkeypatch.setenv("SVP_CHILD_PYTHON", python)
    return python or sys.executable


def as_user_or_skip(reachable_python) -> None:
    """Skip, saying why, a check of the unprivileged uid where no interpreter reaches it."""
    python, why = reachable_python
    if python is None:
        minor = "{}.{}".format(*sys.version_info[:2])
        pytest.skip(f"no Python {minor} that uid {USER[0]} can run here: {why}")


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder other users may enter and read (pytest's tmp_path is mode 700 under a folder
    of mode 700): what a child running as another user must read lives here."""
    folder = Path(tempfile.mkdtemp(prefix="svp-attack-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def attack(
    env,
    open_folder: Path,
    child_python: str,
    monkeypatch: pytest.MonkeyPatch,
    canary: Canary,
    clips: Path,
):
    """attack(child, mode) -> what the stand-in saw, and the exception its run ended with."""
    monkeypatch.setenv("NOTION_TOKEN", "secret_notion_0123456789")
    monkeypatch.setenv("SVP_CHILD_TIMEOUT_SECONDS", str(TIMEOUT))
    base = open_folder
    mode_file = base / "mode"
    script = base / "attack.py"
    outbox = base / "outbox"  # where the stand-ins, whoever they run as, report
    outbox.mkdir()
    outbox.chmod(0o1777)
    private = base / "private"  # a file only the parent's user may read, as a .env would be
    private.write_text("secret_in_a_file_0123456789")
    private.chmod(0o600)
    clip = base / "pasta.mp4"
    shutil.copyfile(clips / "pasta.mp4", clip)
    clip.chmod(0o644)

    def out(child: str) -> Path:
        return outbox / f"{child}.json"

    def write_script(child: str) -> None:
        script.write_text(
            ATTACK.format(
                parent=os.getpid(),
                canary=canary.port,
                mode_file=str(mode_file),
                out=str(out(child)),
                private=str(private),
            )
        )

    # yt-dlp: an extractor plugin that the real worker loads.
    plugin = base / "plugins" / "yt_dlp_plugins" / "extractor"
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
    monkeypatch.syspath_prepend(str(base / "plugins"))
    # gallery-dl: a package ahead of the real one.
    package = base / "stand-in" / "gallery_dl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(f"import runpy\nrunpy.run_path({str(script)!r})\n")
    monkeypatch.syspath_prepend(str(base / "stand-in"))
    # ffprobe and ffmpeg: scripts first on PATH.
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name in ("ffprobe", "ffmpeg"):
        stand_in = bin_dir / name
        run = f"import runpy\nrunpy.run_path({str(script)!r})\nraise SystemExit(1)\n"
        stand_in.write_text(f"#!{child_python}\n{run}")
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
        dest = base / f"dl-{child}-{mode}"
        calls: dict[str, Callable[[], object]] = {
            "yt-dlp": lambda: download("http://127.0.0.1:9/attack/x", dest, settings),
            "gallery-dl": lambda: download(
                "https://www.tiktok.com/@a/photo/7301234567890123456",
                dest,
                settings,
                lambda host, port: ["93.184.216.34"],  # a decision only: nothing connects
            ),
            "ffprobe": lambda: probe(clip, settings),
            "ffmpeg": lambda: extract_audio(clip, base / "a.flac", settings),
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
    """These machines (and CI) offer every mechanism: a missing one fails here, by name. (Who
    the children run as depends on where Python is installed: the next test.)"""
    run_child([sys.executable, "-c", "pass"], what="x", limits=Limits(60, 1024, 64, 60))
    report = isolation_report()
    kernel = [m for m in report["missing"] if not m.startswith(tuple(report["children"]))]
    assert kernel == [], kernel
    assert report["seccomp"] and report["landlock_abi"] >= 4 and report["subreaper"]
    assert report["parent_dumpable"] is False  # once a child started


@pytest.mark.skipif(not ROOT, reason="children run as the parent's own user when it is not root")
def test_as_root_every_child_runs_as_the_unprivileged_uid(reachable_python, child_python):
    """What /health shows: each kind of child as uid 65534, nothing missing, RLIMIT_NPROC."""
    as_user_or_skip(reachable_python)
    report = isolation_report()
    assert report["children_as"] == f"uid {USER[0]}"
    assert report["children"] == dict.fromkeys(report["children"], f"uid {USER[0]}")
    assert report["missing"] == []
    assert report["process_limit"] == "supervisor count and RLIMIT_NPROC"


@pytest.mark.skipif(not ROOT, reason="children run as the parent's own user when it is not root")
def test_a_child_out_of_the_users_reach_runs_as_root_and_health_says_why(
    open_folder, reachable_python
):
    """A program the unprivileged uid cannot run: the child still runs (as root without
    capabilities, no link lost), and the report names the reason."""
    closed = open_folder / "closed"
    closed.mkdir(mode=0o700)
    program = closed / "tool"
    program.write_text("#!/bin/sh\nid -u\n")
    program.chmod(0o755)
    done = run_child([str(program)], what="tool", limits=Limits(60, 1024, 64, 60))
    assert done.stdout.strip() == "0"
    settings = Settings(child_python=str(program))
    report = isolation_report(settings)
    why = f"{closed} (mode 700, owner 0:0) is closed to uid {USER[0]}, on the way to {program}"
    assert report["children"]["yt-dlp"].startswith(f"root without capabilities: {why}")
    assert f"yt-dlp runs as {report['children']['yt-dlp']}" in report["missing"]
    assert "yt-dlp: root without capabilities" in report["children_as"]
    python, _ = reachable_python
    if python and python != sys.executable:  # a system Python it can run: named as the fix
        fix = f"(SVP_CHILD_PYTHON={python} would run as uid {USER[0]})"
        assert report["children"]["yt-dlp"].endswith(fix)


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
    for name in ("environ", "maps", "mem", "private"):
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


@pytest.mark.skipif(not ROOT, reason="children run as the parent's own user when it is not root")
@pytest.mark.parametrize("child", CHILDREN)
def test_as_root_a_child_runs_as_the_unprivileged_uid_under_rlimit_nproc(
    attack, reachable_python, child
):
    as_user_or_skip(reachable_python)
    seen, _ = attack(child, "read")
    uid, gid = USER
    assert seen["ids"] == [uid, uid, gid, []], seen["ids"]
    soft, hard = seen["nproc"]
    assert soft == hard != resource.RLIM_INFINITY
    assert seen["private"][0] == "refused" and "Permission denied" in seen["private"][1]


@pytest.mark.skipif(not ROOT, reason="uid 0 is exempt from RLIMIT_NPROC: the case is root's")
def test_as_root_a_fork_past_rlimit_nproc_is_refused(reachable_python, child_python, open_folder):
    """uid 0 was exempt from RLIMIT_NPROC: as the unprivileged uid, a child that forks past its
    task allowance gets EAGAIN, before the supervisor's count (set high here) would end it."""
    as_user_or_skip(reachable_python)
    limits = Limits(60, 1024, 64, 30, processes=1000, tasks=8)
    forks = textwrap.dedent("""
        import os, time
        started = 0
        try:
            for _ in range(50):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                started += 1
        except BlockingIOError as exc:
            print("refused after", started, exc.strerror)
    """)
    done = run_child([child_python, "-c", forks], what="forker", limits=limits)
    assert "refused after" in done.stdout, (done.stdout, done.stderr)
    assert int(done.stdout.split()[2]) <= limits.tasks
    assert "Resource temporarily unavailable" in done.stdout


@pytest.mark.parametrize("child", CHILDREN)
def test_a_child_that_forks_past_its_limit_is_refused_or_ended(attack, child):
    started = time.monotonic()
    seen, ended = attack(child, "fork")
    pids = seen.get("pids", [])
    assert pids, f"the {child} stand-in did not run"
    limit = Limits(1, 1, 1, 1).processes
    refused = len(pids) < 100 and not isinstance(ended, LimitExceeded)  # RLIMIT_NPROC
    as_root = isolation_report()["children"][child].startswith("root")  # exempt from NPROC
    if as_root or not refused:  # the supervisor's count ended it
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
