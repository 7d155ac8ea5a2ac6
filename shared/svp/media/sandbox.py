"""The parent's side of the child-process ring: what it does to itself, and what it can promise.

- `harden_parent`: the process that starts children is made non-dumpable first, so its
  /proc/<pid>/environ, maps and mem are closed to them. Removing a variable from os.environ
  does not remove it from /proc/<pid>/environ (the kernel shows the process's initial
  block): non-dumpable is what protects that block, together with children that hold no
  capability (CAP_SYS_PTRACE would open a non-dumpable process anyway; the supervisor drops
  them all when it runs as root).
- `isolation_report`: which mechanisms this kernel offers the supervisor (svp.media.supervisor),
  and what each child is therefore refused; logged once at the first child, and meant for a
  health check.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Any

from svp.media import supervisor

log = logging.getLogger("svp.children")

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_CHILD_SUBREAPER = 37

_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_reported: set[str] = set()


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


def isolation_report() -> dict[str, Any]:
    """What confines the children here. `missing` lists, in words, each promise not kept on
    this kernel (empty: every attack the tests play is refused or ended)."""
    root = os.geteuid() == 0
    abi = supervisor.landlock_abi()
    seccomp = supervisor.seccomp_filters()
    subreaper = _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(ctypes.c_int()), 0, 0, 0) == 0
    missing = []
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
        "children_as": "root without capabilities" if root else f"uid {os.geteuid()}",
        "seccomp": seccomp,
        "landlock_abi": abi,
        "landlock_signal_scope": abi >= 6,
        "subreaper": subreaper,
        "process_limit": "supervisor count (uid 0 is exempt from RLIMIT_NPROC)"
        if root
        else "RLIMIT_NPROC",
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
