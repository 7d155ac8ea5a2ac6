"""Child processes that parse what strangers chose: yt-dlp, gallery-dl, ffmpeg and ffprobe.

Every one of them starts through `run_child`, which gives it

- an allow-listed environment (`child_env`): the search path, the locale, CA bundle paths, the
  import path for Python children, a private scratch folder as home and temporary folder, and
  what the caller adds (the egress proxy for the downloaders). Nothing else: not NOTION_TOKEN,
  SVP_ENCRYPTION_KEY, the LLM keys or any other secret the function holds;
- a parent it cannot read: the parent is made non-dumpable before the first child starts
  (svp.media.sandbox), and children hold no capability, so /proc/<parent>/environ, maps and
  mem stay closed (the initial environment block stays there whatever os.environ becomes);
- when the parent is root, another user (`Limits.user`, uid 65534 by default): the files it
  reads and the folders it writes in are named by the caller (`reads`, `writes`), handed to
  that user for the run and taken back after (svp.media.childuser). Where that user cannot
  reach the program or a file, the child runs as root without capabilities and the reason is
  logged once and shown by the isolation report: isolation never costs a link;
- a supervisor (svp.media.supervisor, a small standard-library script between fork and exec,
  rather than a `preexec_fn`, which is unsafe with the egress proxy's threads running) that
  sets the limits (`Limits`: CPU seconds, address space, file size, open files, processes; no
  core files), drops capabilities, confines the network (none for ffmpeg and ffprobe; only the
  egress proxy's port for the downloaders, `egress_port`), and ends the whole tree at the
  timeout or past the process limit, including descendants that left the process group.

A limit hit is a `LimitExceeded` (permanent: the same input would hit it again) naming the
limit and its setting, so a hostile or huge input costs one failed link, not a stuck function.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svp.errors import PermanentError
from svp.media import childuser, supervisor
from svp.media.childuser import python_path
from svp.media.sandbox import harden_parent, note_as_root, note_missing

if TYPE_CHECKING:
    from svp.config import Settings

log = logging.getLogger("svp.children")

# Inherited when set: none holds a secret, each is needed to find programs, certificates,
# a writable folder or the right character set.
KEPT_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)
KEPT_PREFIXES = ("LC_",)
# glibc gives each thread its own 64 MB heap arena on demand; two keep a multi-threaded
# decoder's address space (what RLIMIT_AS counts) close to what it really uses.
FIXED_VARIABLES = {"MALLOC_ARENA_MAX": "2"}

# Beyond the timeout, how long the parent waits for the supervisor to end the tree itself.
_GRACE_SECONDS = 10
_OUT_OF_MEMORY = re.compile(
    r"MemoryError|Cannot allocate memory|out of memory|std::bad_alloc|\[Errno 12\]"
    r"|failed to map segment from shared object",  # the loader, before main() even runs
    re.I,
)
_FILE_TOO_LARGE = re.compile(r"File too large|\[Errno 27\]", re.I)


class LimitExceeded(PermanentError):
    """A child hit one of its limits: the same input would hit it again."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_mb: int
    file_mb: int
    timeout_seconds: int
    # Fixed, not settings: yt-dlp, gallery-dl, ffmpeg and ffprobe need a handful of each.
    processes: int = 32  # in the tree, counted by the supervisor
    tasks: int = 256  # processes and threads, RLIMIT_NPROC (for a user other than root)
    open_files: int = 1024
    # Who the child runs as when the parent is root (Settings.child_user); None: root
    # without capabilities.
    user: tuple[int, int] | None = (65534, 65534)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        from svp.config import Settings

        s = settings or Settings()
        return cls(
            s.child_cpu_seconds,
            s.child_memory_mb,
            s.child_file_mb,
            s.child_timeout_seconds,
            user=s.child_user,
        )


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a child: the kept variables, the fixed ones, and `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in KEPT_VARIABLES or name.startswith(KEPT_PREFIXES)
    }
    env.update(FIXED_VARIABLES)
    env.update(extra or {})
    return env


__all__ = ["LimitExceeded", "Limits", "child_env", "limit_in_text", "python_path", "run_child"]


def supervised(
    command: Sequence[str],
    limits: Limits,
    verdict_fd: int,
    egress_port: int | None,
    user: tuple[int, int] | None = None,
    home: str = "",
) -> list[str]:
    """`command` started through the supervisor that applies `limits` and the confinement,
    as `user` (uid, gid) when given."""
    mb = 1024 * 1024
    config = {
        "cpu": limits.cpu_seconds,
        "memory": limits.memory_mb * mb,
        "size": limits.file_mb * mb,
        "files": limits.open_files,
        "processes": limits.processes,
        "tasks": limits.tasks,
        "timeout": limits.timeout_seconds,
        "network": "tcp" if egress_port else "none",
        "proxy_port": egress_port,
        "protected": [os.getpid()],
        "verdict_fd": verdict_fd,
        "user": list(user) if user else None,
        "home": home,
    }
    return [sys.executable, "-I", "-S", supervisor.__file__, json.dumps(config), *command]


def run_child(
    command: Sequence[str],
    *,
    what: str,
    limits: Limits,
    env: Mapping[str, str] | None = None,
    egress_port: int | None = None,
    reads: Sequence[Path] = (),
    writes: Sequence[Path] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `command` with `child_env(env)` and `limits`; its output is captured as text. With
    `egress_port`, it may open TCP connections to that port only (the egress proxy); without,
    no network at all. `reads`: the files it reads; `writes`: the folders it writes in and
    the files it writes (created for it), which a child running as `limits.user` is handed.

    Raises LimitExceeded when it ran out of time, CPU, memory, file size or processes; any
    other exit status is the caller's to read."""
    harden_parent()
    scratch = tempfile.mkdtemp(prefix="svp-child-")
    environment = {**child_env(env), "HOME": scratch, "TMPDIR": scratch}
    user, handover = _hand_over(what, limits, command, environment, scratch, reads, writes)
    verdict_read, verdict_write = os.pipe()
    try:
        process = subprocess.Popen(
            supervised(command, limits, verdict_write, egress_port, user, scratch),
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            pass_fds=(verdict_write,),
            start_new_session=True,
        )
    except BaseException:
        os.close(verdict_read)
        _take_back(handover)
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        os.close(verdict_write)
    try:
        out, err = _communicate(process, limits.timeout_seconds + _GRACE_SECONDS)
        verdict = _verdict(verdict_read)
    finally:
        os.close(verdict_read)
        _take_back(handover)
        shutil.rmtree(scratch, ignore_errors=True)
    if verdict.get("missing"):
        note_missing(what, verdict["missing"])
    ended = verdict.get("ended")
    if ended in ("timeout", "stopped") or out is None:
        raise LimitExceeded(
            f"{what} did not finish within {limits.timeout_seconds} s (SVP_CHILD_TIMEOUT_SECONDS)"
        )
    if ended == "processes":
        raise LimitExceeded(f"{what} started more than {limits.processes} processes")
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    problem = limit_problem(what, limits, done.returncode, err)
    if problem:
        raise LimitExceeded(problem)
    return done


def _hand_over(
    what: str,
    limits: Limits,
    command: Sequence[str],
    env: Mapping[str, str],
    scratch: str,
    reads: Sequence[Path],
    writes: Sequence[Path],
) -> tuple[tuple[int, int] | None, childuser.Handover | None]:
    """The user the child runs as (None: the parent's) and what it was handed. A root parent
    drops it to `limits.user` where that user can reach what it needs; where it cannot, the
    child runs as root without capabilities, and the reason is logged once: isolation never
    costs a link."""
    user = limits.user if os.geteuid() == 0 else None
    if not user:
        return None, None
    reason = childuser.obstacle(user, command, env, reads, writes)
    if reason and "PYTHONPATH" in env and (other := childuser.other_python(user)):
        reason += f" (SVP_CHILD_PYTHON={other} would run as uid {user[0]})"
    if reason is None:
        try:
            os.chown(scratch, *user)
            return user, childuser.Handover(user, writes)
        except OSError as exc:
            reason = f"could not hand it its folders: {exc}"
    note_as_root(what, user, reason)
    return None, None


def _take_back(handover: childuser.Handover | None) -> None:
    if handover:
        try:
            handover.take_back()
        except OSError as exc:  # what it wrote stays readable to the parent (root) anyway
            log.warning("could not take back what a child wrote: %s", exc)


def _communicate(process: subprocess.Popen, timeout: float) -> tuple[str | None, str]:
    """The child's output; (None, "") when the supervisor did not end it in time and it had to
    be stopped from here."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        return None, ""
    except BaseException:  # interrupted: leave nothing running
        _stop(process)
        raise


def _stop(process: subprocess.Popen) -> None:
    """Ask the supervisor to end the tree (SIGTERM), then kill its group if it does not."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=5)


def _verdict(fd: int) -> dict:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        return {}


def limit_problem(what: str, limits: Limits, returncode: int | None, stderr: str) -> str | None:
    """Which limit a child that exited with `returncode` hit, if any."""
    if returncode == -signal.SIGXCPU:
        return f"{what} used more than {limits.cpu_seconds} s of CPU time (SVP_CHILD_CPU_SECONDS)"
    if returncode == -signal.SIGXFSZ:
        return limit_in_text(what, limits, "File too large")
    return limit_in_text(what, limits, stderr) if returncode else None


def limit_in_text(what: str, limits: Limits, text: str) -> str | None:
    """Which limit an error a child reported shows it hit (Python children report running
    out of memory or file size as errors, not signals), if any."""
    if _FILE_TOO_LARGE.search(text or ""):
        return f"{what} tried to write a file over {limits.file_mb} MB (SVP_CHILD_FILE_MB)"
    if _OUT_OF_MEMORY.search(text or ""):
        return f"{what} ran out of its {limits.memory_mb} MB of memory (SVP_CHILD_MEMORY_MB)"
    return None


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
