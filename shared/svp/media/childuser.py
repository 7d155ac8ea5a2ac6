"""Children as an unprivileged user: whether that user can reach what a child needs, and the
folders it writes handed over to it for the run, then taken back.

A root parent drops its children to `Settings.child_user` (uid 65534 by default; no passwd
entry needed), so that a child owns nothing of root's: not the parent's /proc, not a root-only
file. That user must be able to run the program (and a script's interpreter), list a Python
child's import path, read its inputs and enter the folders of its outputs. `obstacle` says, in
words, what stands in the way (judged by the mode bits, as the kernel would for a user with no
supplementary group); the caller then runs the child as root without capabilities and says why,
rather than fail the link.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

User = tuple[int, int]  # uid, gid

READ, WRITE, SEARCH = 4, 2, 1


def _allowed(info: os.stat_result, user: User, want: int) -> bool:
    uid, gid = user
    if info.st_uid == uid:
        bits = info.st_mode >> 6
    elif info.st_gid == gid:
        bits = info.st_mode >> 3
    else:
        bits = info.st_mode
    return bits & want == want


def _mode(info: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(info.st_mode):o}, owner {info.st_uid}:{info.st_gid}"


def closed(path: str | os.PathLike, user: User, want: int) -> str | None:
    """Why `user` cannot `want` (READ | WRITE | SEARCH bits) `path`, None when it can. Every
    folder on the way must let it search, on the path as written and once links are resolved."""
    written = os.path.abspath(path)
    for candidate in dict.fromkeys((written, os.path.realpath(written))):
        parts = Path(candidate).parents
        for folder in reversed(parts):
            try:
                info = os.stat(folder)
            except OSError as exc:
                return f"{folder}: {exc.strerror}"
            if not _allowed(info, user, SEARCH):
                return f"{folder} ({_mode(info)}) is closed to uid {user[0]}, on the way to {path}"
    try:
        info = os.stat(written)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if not _allowed(info, user, want):
        needed = "".join(c for bit, c in ((READ, "r"), (WRITE, "w"), (SEARCH, "x")) if want & bit)
        return f"{path} ({_mode(info)}) does not give uid {user[0]} {needed}"
    return None


def program(command: Sequence[str], env: Mapping[str, str]) -> str:
    """The file `command` executes, found on the child's PATH like execvp would."""
    return shutil.which(command[0], path=env.get("PATH")) or command[0]


def obstacle(
    user: User,
    command: Sequence[str],
    env: Mapping[str, str],
    reads: Iterable[Path] = (),
    writes: Iterable[Path] = (),
) -> str | None:
    """What keeps `user` from running `command` with `env`, reading `reads` and writing in
    `writes` (folders it is handed, or files created for it); None when nothing does."""
    executable = program(command, env)
    checks: list[tuple[str, int]] = [(executable, SEARCH)]
    interpreter = _shebang(executable)
    if interpreter:  # a script: its interpreter runs it, reading it
        checks += [(executable, READ), (interpreter, SEARCH)]
    if "PYTHONPATH" in env:  # a Python child lists every folder of its import path
        checks += [(entry, READ | SEARCH) for entry in env["PYTHONPATH"].split(os.pathsep)]
        if os.path.realpath(executable) == os.path.realpath(sys.executable):
            checks.append((sysconfig.get_paths()["stdlib"], READ | SEARCH))
    checks += [(str(path), READ) for path in reads]
    checks += [(str(Path(path).parent), SEARCH) for path in writes]
    for path, want in checks:
        if reason := closed(path, user, want):
            return reason
    return None


def _shebang(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            head = file.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    return os.fsdecode(words[0]) if words else None


def python_path() -> str:
    """The parent's import path, for a Python child: it imports the same svp and yt-dlp,
    wherever the platform installed them (Cloud Functions: not the default site). The standard
    library's own folders are left out: every interpreter finds its own (and a child's may be
    another build of the same version, `Settings.child_python`)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    own = {stdlib, os.path.join(stdlib, "lib-dynload")}
    svp_root = str(Path(__file__).resolve().parents[2])  # an editable install has no folder
    entries = [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)]
    entries = [p for p in entries if p not in own]
    return os.pathsep.join(dict.fromkeys([*entries, svp_root]))


def python(interpreter: str = "") -> str:
    """The interpreter of a Python child: `interpreter` (Settings.child_python) or ours."""
    return interpreter or sys.executable


def other_python(user: User) -> str | None:
    """A system interpreter of our Python 3.x that `user` can run with our import path, to
    suggest as Settings.child_python where ours is out of its reach; None if there is none."""
    minor = "{}.{}".format(*sys.version_info[:2])
    env = {"PATH": os.defpath, "PYTHONPATH": python_path()}
    for candidate in (f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"):
        if os.path.isfile(candidate) and obstacle(user, [candidate], env) is None:
            return candidate
    return None


class Handover:
    """The folders (and output files) a child writes, owned by `user` for the run; `take_back`
    gives everything the child made there to the parent's user, so that a later child running
    as the same uid, of another job, cannot change what this one left for the parent."""

    def __init__(self, user: User, writes: Iterable[Path]):
        self.user = user
        self.paths: list[Path] = []
        self.created: list[Path] = []
        try:
            for path in writes:
                self._hand(Path(path))
        except OSError:
            self.take_back()
            raise

    def _hand(self, path: Path) -> None:
        if not path.exists():  # an output file: created empty, so the child may open it
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            self.created.append(path)
        self.paths.append(path)
        for entry in [path, *_inside(path)]:  # what a former attempt left, it may replace
            os.chown(entry, *self.user, follow_symlinks=False)

    def take_back(self) -> None:
        owner = (os.geteuid(), os.getegid())
        for path in self.paths:
            for entry in [path, *_inside(path)]:
                self._give(entry, owner)
        for path in self.created:  # the child failed before writing it: no empty output
            if path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
                path.unlink()

    def _give(self, path: Path, owner: User) -> None:
        try:
            if os.lstat(path).st_uid == self.user[0]:  # only what the child owns
                os.chown(path, *owner, follow_symlinks=False)
        except FileNotFoundError:
            pass


def _inside(path: Path) -> list[Path]:
    """Everything below the folder `path` (nothing for a file); links are not followed."""
    if path.is_symlink() or not path.is_dir():
        return []
    return [Path(folder) / name for folder, dirs, files in os.walk(path) for name in dirs + files]
