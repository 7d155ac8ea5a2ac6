"""The parent's side of the child-process ring: what it does to itself, and what it can promise.

- `harden_parent`: the process that starts children is made non-dumpable first, so its
  /proc/<pid>/environ, maps and mem are closed to them. Removing a variable from os.environ
  does not remove it from /proc/<pid>/environ (the kernel shows the process's initial
  block): non-dumpable is what protects that block, together with children that hold no
  capability (CAP_SYS_PTRACE would open a non-dumpable process anyway; the supervisor drops
  them all when it runs as root) and, where the parent is root, run as another user
  (`Settings.child_user`, svp.media.childuser) whom the parent's /proc does not belong to.
- `children_as`: who each kind of child runs as here, and if root, why.
- `isolation_report`: which mechanisms this kernel offers the supervisor (svp.media.supervisor),
  and what each child is therefore refused; logged once at the first child, and meant for a
  health check.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from svp.media import childuser, supervisor

if TYPE_CHECKING:
    from svp.config import Settings

log = logging.getLogger("svp.children")

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_CHILD_SUBREAPER = 37

_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_reported: set[str] = set()
KINDS = ("yt-dlp", "gallery-dl", "ffmpeg", "ffprobe")


def harden_parent() -> None:
    """Make this process non-dumpable (idempotent); log what the children get, once."""
    if _libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    with _lock:
        if "start" in _reported:
            return
        _reported.add("start")
    report = isolation_report()
    if report["missing"]:
        log.warning("child isolation incomplete here: %s", "; ".join(report["missing"]))
    else:
        log.info("child isolation: %s", report["summary"])


def note_missing(what: str, missing: list[str]) -> None:
    """A mechanism the supervisor could not apply to a child: logged once per child kind."""
    key = f"{what}: {', '.join(missing)}"
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    log.warning("%s ran without %s", what, ", ".join(missing))


def note_as_root(what: str, user: tuple[int, int], reason: str) -> None:
    """A child that runs as root without capabilities, not as `user`: logged once per reason."""
    key = f"as root: {what}: {reason}"
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    log.warning(
        "%s runs as root without capabilities, not as uid %d: %s (SVP_CHILD_PYTHON names an"
        " interpreter that user can run; SVP_CHILD_USER=root keeps children root)",
        what,
        user[0],
        reason,
    )


def children_as(settings: Settings | None = None) -> dict[str, str]:
    """Who each kind of child runs as here: `uid N`, or root without capabilities and why."""
    if os.geteuid() != 0:
        return dict.fromkeys(KINDS, f"uid {os.geteuid()} (the parent's user)")
    settings = settings or _settings()
    user = settings.child_user
    if not user:
        return dict.fromkeys(KINDS, "root without capabilities (SVP_CHILD_USER=root)")
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    python = {**env, "PYTHONPATH": childuser.python_path()}
    needs = {
        "ffmpeg": (["ffmpeg"], env),
        "ffprobe": (["ffprobe"], env),
        "yt-dlp": ([childuser.python(settings.child_python)], python),
        "gallery-dl": ([childuser.python(settings.child_python)], python),
    }
    answer = {}
    for kind, (command, environment) in needs.items():
        reason = childuser.obstacle(user, command, environment)
        if reason and "PYTHONPATH" in environment and (other := childuser.other_python(user)):
            reason += f" (SVP_CHILD_PYTHON={other} would run as uid {user[0]})"
        answer[kind] = f"root without capabilities: {reason}" if reason else f"uid {user[0]}"
    return answer


def _settings() -> Settings:
    from svp.config import Settings, load_settings

    try:
        return load_settings(dotenv=None)
    except ValueError:  # a setting another part reports: the defaults say enough here
        return Settings()


def isolation_report(settings: Settings | None = None) -> dict[str, Any]:
    """What confines the children here. `missing` lists, in words, each promise not kept on
    this kernel (empty: every attack the tests play is refused or ended)."""
    who = children_as(settings)
    as_root = [kind for kind, answer in who.items() if answer.startswith("root")]
    abi = supervisor.landlock_abi()
    seccomp = supervisor.seccomp_filters()
    subreaper = _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(ctypes.c_int()), 0, 0, 0) == 0
    missing = [f"{kind} runs as {who[kind]}" for kind in as_root]
    if not seccomp:
        missing.append("no seccomp filter: ffmpeg and ffprobe can open sockets")
    if abi < 4:
        missing.append(
            f"Landlock ABI {abi} (network rules need 4): yt-dlp and gallery-dl can connect"
            " around the egress proxy"
        )
    if not subreaper:
        missing.append(
            "no child subreaper: a descendant that calls setsid() is ended only if the"
            " supervisor saw it (it looks every 0.1 s)"
        )
    report: dict[str, Any] = {
        "parent_dumpable": bool(_libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)),
        "children_as": _in_short(who),
        "children": who,
        "seccomp": seccomp,
        "landlock_abi": abi,
        "landlock_signal_scope": abi >= 6,
        "subreaper": subreaper,
        "process_limit": "supervisor count and RLIMIT_NPROC"
        if not as_root
        else f"supervisor count (RLIMIT_NPROC too, but not for {', '.join(as_root)}:"
        " uid 0 is exempt from it)",
        "ffmpeg_network": "none (seccomp)" if seccomp else "unrestricted",
        "downloader_network": "egress proxy port only (Landlock)" if abi >= 4 else "unrestricted",
        "missing": missing,
    }
    report["summary"] = (
        f"parent non-dumpable, children {report['children_as']}, "
        f"ffmpeg/ffprobe network: {report['ffmpeg_network']}, "
        f"yt-dlp/gallery-dl network: {report['downloader_network']}, "
        f"processes: {report['process_limit']}, tree ended by a subreaper"
    )
    return report


def _in_short(who: dict[str, str]) -> str:
    """ "uid 65534" when every kind runs as it, else each kind's answer without its reason."""
    short = {kind: answer.split(":")[0] for kind, answer in who.items()}
    if len(set(short.values())) == 1:
        return next(iter(short.values()))
    return "; ".join(f"{kind}: {answer}" for kind, answer in short.items())
