"""Child processes that parse what strangers chose: yt-dlp, gallery-dl, ffmpeg and ffprobe.

Every one of them starts through `run_child`, which gives it

- an allow-listed environment (`child_env`): the search path, home, locale, temporary folder
  and CA bundle paths, the import path for Python children, and what the caller adds (the
  egress proxy for the downloaders). Nothing else: not NOTION_TOKEN, SVP_ENCRYPTION_KEY, the
  LLM keys or any other secret the function holds, so a parser bug or a hostile extractor
  plugin has nothing to hand out;
- limits (`Limits`, from the SVP_CHILD_* settings): CPU seconds, address space and file size
  (RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE; no core files), set by a tiny launcher just before
  exec rather than by `preexec_fn`, which is unsafe with the egress proxy's threads running;
  and a wall-clock timeout that kills the child's whole process group.

A limit hit is a `LimitExceeded` (permanent: the same input would hit it again) naming the
limit and its setting, so a hostile or huge input costs one failed link, not a stuck function.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svp.errors import PermanentError

if TYPE_CHECKING:
    from svp.config import Settings

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

# Runs in the child between fork and exec: set the limits, restore the default action of the
# signals Python ignores (a limit must stop ffmpeg, not be ignored by it), exec the command.
_LAUNCHER = """
import os, resource, signal, sys
cpu, memory, size = (int(v) for v in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if cpu: resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
if memory: resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
if size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
for name in ("SIGPIPE", "SIGXFSZ", "SIGXCPU"):
    signal.signal(getattr(signal, name), signal.SIG_DFL)
os.execvp(sys.argv[4], sys.argv[4:])
"""
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

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        from svp.config import Settings

        s = settings or Settings()
        return cls(s.child_cpu_seconds, s.child_memory_mb, s.child_file_mb, s.child_timeout_seconds)


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


def python_path() -> str:
    """The parent's import path, for a Python child: it imports the same svp and yt-dlp,
    wherever the platform installed them (Cloud Functions: not the default site)."""
    return os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))


def limited(command: Sequence[str], limits: Limits) -> list[str]:
    """`command` started through the launcher that applies `limits`."""
    mb = 1024 * 1024
    sizes = [limits.cpu_seconds, limits.memory_mb * mb, limits.file_mb * mb]
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, *map(str, sizes), *command]


def run_child(
    command: Sequence[str],
    *,
    what: str,
    limits: Limits,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command` with `child_env(env)` and `limits`; its output is captured as text.

    Raises LimitExceeded when it ran out of time, CPU, memory or file size; any other exit
    status is the caller's to read."""
    process = subprocess.Popen(
        limited(command, limits),
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: a timeout kills its children too
    )
    try:
        out, err = process.communicate(timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise LimitExceeded(
            f"{what} did not finish within {limits.timeout_seconds} s (SVP_CHILD_TIMEOUT_SECONDS)"
        ) from None
    except BaseException:  # interrupted: leave nothing running
        _kill_group(process)
        raise
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    problem = limit_problem(what, limits, done.returncode, err)
    if problem:
        raise LimitExceeded(problem)
    return done


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
