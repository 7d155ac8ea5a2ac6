"""The supervisor between the parent and each child: `python -I -S supervisor.py CONFIG CMD...`.

Standard library only (it runs isolated, without site-packages) and single-threaded, so what
must happen between fork and exec happens here safely, not in a `preexec_fn` of the parent,
whose egress-proxy threads make that unsafe. It

- becomes a child subreaper, forks the command and waits: whatever the command starts, even a
  descendant that called setsid() and left the process group, is re-parented here, so at the
  end, at the deadline or past the process limit the whole tree is killed (`end_tree`);
- in the command, before exec: sets the limits (CPU, address space, file size, open files,
  processes; no core files), drops every capability when it runs as root and becomes
  CONFIG["user"] when given (so the parent's /proc stays closed: reading a non-dumpable
  process needs CAP_SYS_PTRACE, and another user's needs it too), sets no_new_privs, then
  Landlock (TCP connect only to the egress proxy's port, or none; signals and abstract Unix
  sockets scoped to the child) and a seccomp filter (no sockets but Unix ones for ffmpeg and
  ffprobe; Unix and TCP for the downloaders; no io_uring, which would bypass the filter; no
  signal to the parent, the supervisor, a process group or every process);
- tells the parent, on the fd in CONFIG["verdict_fd"], one JSON line: why it ended the tree
  ("timeout", "processes") if it did, and which mechanisms were missing.

The command's exit status is relayed as its own: the same code, or the same signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import signal
import struct
import sys
import time
import warnings  # noqa: F401 - os.execvp imports it late, when the user it became may not reach it

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
# SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE and their locks:
# an exec as uid 0 no longer grants capabilities back.
SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80

# Landlock (syscalls 444-446 on every architecture)
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_NET_PORT = 2
ACCESS_NET_BIND_TCP, ACCESS_NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

# x86_64 system call numbers the filter looks at
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
NR_SOCKET, NR_KILL, NR_RT_SIGQUEUEINFO, NR_TKILL, NR_TGKILL = 41, 62, 129, 200, 234
NR_RT_TGSIGQUEUEINFO, NR_IO_URING_SETUP, NR_PIDFD_OPEN, NR_CAPSET = 297, 425, 434, 126
SIGNAL_CALLS = (NR_KILL, NR_RT_SIGQUEUEINFO, NR_TKILL, NR_TGKILL, NR_RT_TGSIGQUEUEINFO)
AF_UNIX, AF_INET, AF_INET6, SOCK_STREAM = 1, 2, 10, 1

RET_ALLOW, RET_KILL_PROCESS = 0x7FFF0000, 0x80000000
RET_EPERM = 0x00050000 | errno.EPERM
RET_EACCES = 0x00050000 | errno.EACCES


def _prctl(option: int, arg: int = 0) -> bool:
    return _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


# -- what the kernel offers (also asked by the parent, for the isolation report) ---------------
def landlock_abi() -> int:
    """Landlock's ABI version, 0 where there is none (gVisor, older kernels, LSM not on)."""
    version = _libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(version, 0)


def seccomp_filters() -> bool:
    """Whether seccomp filters can be installed here (EFAULT for a NULL filter means yes)."""
    if os.uname().machine != "x86_64":  # the filter below is written for x86_64
        return False
    _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, None, 0, 0)
    return ctypes.get_errno() == errno.EFAULT


# -- BPF ----------------------------------------------------------------------------------------
class _Program:
    """A classic BPF program with named jump targets, resolved when `build` is called."""

    LD_W_ABS, JEQ, JSET, JGE, JA, RET, AND = 0x20, 0x15, 0x45, 0x35, 0x05, 0x06, 0x54

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((self.LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: str | int, false: str | int = 0) -> None:
        self.code.append((op, true, false, k))

    def ret(self, action: int) -> None:
        self.code.append((self.RET, 0, 0, action))

    def build(self) -> bytes:
        def target(at: int, to: object) -> int:
            if isinstance(to, str):
                return self.labels[to] - at - 1
            return int(to)  # type: ignore[call-overload]

        out = b""
        for at, (op, true, false, k) in enumerate(self.code):
            out += struct.pack("=HBBI", op, target(at, true), target(at, false), k)
        return out


def _arg(index: int) -> int:
    return 16 + 8 * index  # the low 32 bits of seccomp_data.args[index] (little-endian)


def seccomp_program(network: str, protected: list[int]) -> bytes:
    """The filter: `network` is "none" (Unix sockets only) or "tcp" (Unix, and TCP over IPv4 or
    IPv6: Landlock narrows TCP to the egress proxy). `protected`: pids no signal may reach."""
    p = _Program()
    p.load(4)  # arch
    p.jump(p.JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    p.load(0)  # nr
    p.jump(p.JGE, X32_SYSCALL_BIT, "deny")
    p.jump(p.JEQ, NR_IO_URING_SETUP, "deny")
    p.jump(p.JEQ, NR_SOCKET, "socket")
    p.jump(p.JEQ, NR_PIDFD_OPEN, "signal")
    for nr in SIGNAL_CALLS:
        p.jump(p.JEQ, nr, "signal")
    p.ret(RET_ALLOW)
    p.label("socket")
    p.load(_arg(0))
    p.jump(p.JEQ, AF_UNIX, "allow")
    if network == "tcp":
        p.jump(p.JEQ, AF_INET, "stream")
        p.jump(p.JEQ, AF_INET6, "stream")
    p.ret(RET_EACCES)
    p.label("stream")
    p.load(_arg(1))
    p.code.append((p.AND, 0, 0, 0xF))  # without SOCK_NONBLOCK / SOCK_CLOEXEC
    p.jump(p.JEQ, SOCK_STREAM, "allow", "deny")
    p.label("signal")
    p.load(_arg(0))
    p.jump(p.JSET, 0x80000000, "deny")  # a process group, or -1: every process it may signal
    p.jump(p.JEQ, 0, "deny")  # its own process group: the supervisor's
    for pid in protected:
        p.jump(p.JEQ, pid, "deny")
    p.label("allow")
    p.ret(RET_ALLOW)
    p.label("deny")
    p.ret(RET_EPERM)
    p.label("kill")
    p.ret(RET_KILL_PROCESS)
    return p.build()


def install_seccomp(program: bytes) -> None:
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program)
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")


# -- Landlock ------------------------------------------------------------------------------------
def restrict_network(proxy_port: int | None, abi: int) -> None:
    """No TCP bind; TCP connect only to `proxy_port` (none if None); with ABI 6, signals and
    abstract Unix sockets only within the child's own domain."""
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", 0, ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP, scoped)
    attr = attr if abi >= 6 else attr[:16]
    ruleset = _libc.syscall(LANDLOCK_CREATE_RULESET, attr, len(attr), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        if proxy_port:
            rule = struct.pack("=QQ", ACCESS_NET_CONNECT_TCP, proxy_port)
            if _libc.syscall(LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_NET_PORT, rule, 0) != 0:
                raise OSError(ctypes.get_errno(), "landlock_add_rule")
        if _libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)


# -- capabilities ------------------------------------------------------------------------------
def drop_capabilities(user: list[int] | None = None) -> str | None:
    """No capability left: no CAP_SYS_PTRACE (a non-dumpable parent stays closed), no
    CAP_SYS_RESOURCE (the limits hold), none regained by an exec. With `user` ([uid, gid]),
    the process becomes that user (no supplementary group), whom root's files and /proc
    entries do not belong to; where it cannot, it stays root, and the reason is returned."""
    for cap in range(64):  # first: dropping from the bounding set needs CAP_SETPCAP
        if not _prctl(PR_CAPBSET_DROP, cap) and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    refused = None
    if user:
        # setuid away from 0 clears the permitted and effective sets (no securebits set yet).
        try:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
        except OSError as exc:
            refused = f"uid {user[0]} ({exc.strerror})"
    if os.getuid() == 0:
        # A belt only (gVisor has no securebits): with an empty bounding set, an exec as root
        # gets no capability back anyway.
        _prctl(PR_SET_SECUREBITS, SECUREBITS)
    header = struct.pack("=Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    if _libc.syscall(NR_CAPSET, header, bytes(24)) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    with open("/proc/self/status") as status:
        held = [line for line in status if line.startswith(("CapEff:", "CapBnd:", "CapPrm:"))]
    if any(int(line.split()[1], 16) for line in held):
        raise OSError(errno.EPERM, "capabilities are still held")
    return refused


# -- the tree ----------------------------------------------------------------------------------
def descendants(root: int) -> list[int]:
    """Every live process below `root`: from /proc/<pid>/task/<tid>/children where the kernel
    has them (cheap: only the tree is read), else from every process's parent in /proc."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return descendants_by_scan(root)
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    children = [int(c) for c in file.read().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def descendants_by_scan(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := stat(int(entry))):
            children.setdefault(info[0], []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of `pid`, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def end_tree(seen: dict[int, int]) -> None:
    """SIGKILL everything below this process and reap it, until nothing is left. What escapes
    the group with setsid() or double-forks is re-parented here (subreaper) and killed next;
    where there is no subreaper, what was `seen` below (pid: start time) and is still the
    same process is killed too."""
    me = os.getpid()
    for _ in range(1000):
        pids = set(descendants(me))
        pids |= {pid for pid, started in seen.items() if (stat(pid) or (0, -1))[1] == started}
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            if not pids:
                return
        time.sleep(0.01)


def note(seen: dict[int, int], pids: list[int]) -> None:
    for pid in pids:
        if pid not in seen and (info := stat(pid)):
            seen[pid] = info[1]


# -- the command ---------------------------------------------------------------------------------
def limit(config: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, key in (
        ("RLIMIT_AS", "memory"),
        ("RLIMIT_FSIZE", "size"),
        ("RLIMIT_NOFILE", "files"),
    ):
        if config.get(key):
            resource.setrlimit(getattr(resource, name), (config[key], config[key]))
    if config.get("cpu"):
        resource.setrlimit(resource.RLIMIT_CPU, (config["cpu"], config["cpu"] + 5))
    if config.get("tasks"):
        # RLIMIT_NPROC counts all the user's processes and threads: what it runs already, plus
        # ours (ffmpeg's threads too). uid 0 is exempt: the supervisor's count of processes
        # ends the tree instead, for any user.
        uid = config["user"][0] if config.get("user") else os.getuid()
        allowed = _tasks_of(uid) + config["tasks"]
        resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
    return count


def confine(config: dict, supervisor: int) -> list[str]:
    """Everything but the limits, in the order the kernel needs; the names of what is missing."""
    missing: list[str] = []
    if os.geteuid() == 0:
        try:
            if refused := drop_capabilities(config.get("user")):
                missing.append(refused)
        except OSError as exc:
            missing.append(f"capabilities ({exc.strerror})")
        if config.get("user") and config.get("home") and not os.access(".", os.X_OK):
            os.chdir(config["home"])  # the parent's folder may be closed to this user
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    network = config.get("network", "none")
    abi = landlock_abi()
    if abi >= 4:
        try:
            restrict_network(config.get("proxy_port") if network == "tcp" else None, abi)
        except OSError as exc:
            missing.append(f"landlock ({exc.strerror})")
    else:
        missing.append("landlock")
    if seccomp_filters():
        protected = [supervisor, *config.get("protected", [])]
        install_seccomp(seccomp_program(network, protected))
    else:
        missing.append("seccomp")
    return missing


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        time.sleep(1)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def supervise(config: dict, command: list[str]) -> None:
    verdict_fd = config["verdict_fd"]
    me = os.getpid()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD, signal.SIGTERM])
    missing_read, missing_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command
        try:
            os.close(verdict_fd)
            os.close(missing_read)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD, signal.SIGTERM])
            for name in ("SIGPIPE", "SIGXFSZ", "SIGXCPU"):  # Python ignores some: a limit stops
                signal.signal(getattr(signal, name), signal.SIG_DFL)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            limit(config)
            missing = confine(config, me)
            os.write(missing_write, json.dumps(missing).encode())
            os.close(missing_write)
            os.execvp(command[0], command)
        except BaseException as exc:  # noqa: BLE001 - nothing may return into the supervisor
            os.write(2, f"supervisor: cannot start {command[0]}: {exc}\n".encode())
        os._exit(127)
    os.close(missing_write)
    verdict: dict = {"missing": [] if subreaper else ["subreaper"]}
    with os.fdopen(missing_read) as reported, contextlib.suppress(ValueError):
        verdict["missing"] += json.loads(reported.read() or "[]")
    deadline = time.monotonic() + config["timeout"]
    seen: dict[int, int] = {}
    status = _wait(pid, deadline, config.get("processes") or 0, seen, verdict)
    end_tree(seen)
    with os.fdopen(verdict_fd, "w") as out:
        out.write(json.dumps(verdict))
    _exit_like(status)


def _wait(pid: int, deadline: float, processes: int, seen: dict[int, int], verdict: dict) -> int:
    """The command's wait status; ends waiting (and sets verdict["ended"]) at the deadline, at
    SIGTERM from the parent, or when the tree holds more than `processes` processes. Every
    process seen below is noted in `seen`, so that it can be ended even without a subreaper."""
    me = os.getpid()
    while True:
        try:
            while True:
                done, status = os.waitpid(-1, os.WNOHANG)
                if done == pid:
                    return status
                if not done:
                    break
        except ChildProcessError:
            return 0
        left = deadline - time.monotonic()
        if left <= 0:
            verdict["ended"] = "timeout"
            return signal.SIGKILL
        below = descendants(me)
        note(seen, below)
        if processes and len(below) > processes:
            verdict["ended"] = "processes"
            return signal.SIGKILL
        info = signal.sigtimedwait([signal.SIGCHLD, signal.SIGTERM], min(left, 0.1))
        if info is not None and info.si_signo == signal.SIGTERM:  # the parent gave up on it
            verdict["ended"] = "stopped"
            return signal.SIGKILL


if __name__ == "__main__":
    supervise(json.loads(sys.argv[1]), sys.argv[2:])
