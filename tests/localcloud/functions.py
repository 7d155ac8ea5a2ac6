"""Each function as Cloud Build and Cloud Run make it: its own source, its own packages, its
own server.

- The source is what terraform/modules/stage zips: the function's folder, with the shared
  `svp` package copied beside main.py (caches and dotfiles left out).
- The packages are the folder's requirements.txt and nothing else, installed by uv into a
  virtual environment of the function's own (kept under .localcloud/, reused while the
  requirements file is unchanged). An import the requirements do not cover fails here as
  it would on Google Cloud.
- The server is functions-framework with the entry point and signature type Terraform deploys,
  on a port of its own, behind a front (svp's stand-in for Cloud Run) that answers 504 when a
  request outlives the function's timeout but lets the function go on running, as Cloud Run
  does, and 429 when every instance is busy.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.localcloud.terraform import CODE, ROOT, FunctionSpec

CACHE = ROOT / ".localcloud"
EXCLUDED = ("__pycache__", ".pyc", ".pyo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _python() -> str:
    """The interpreter the functions run on: Cloud Functions' python311 runtime, here the one
    running the tests (3.11)."""
    return sys.executable


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        raise RuntimeError("uv is not installed: `pip install uv` (make test installs it)")
    return found


def build_source(spec: FunctionSpec, into: Path) -> Path:
    """The function's deployed source tree: its folder plus svp/ (the Terraform zip)."""
    target = into / spec.name
    shutil.rmtree(target, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")
    shutil.copytree(spec.source_dir, target, ignore=ignore)
    shutil.copytree(CODE / "shared" / "svp", target / "svp", ignore=ignore)
    return target


def environment(spec: FunctionSpec) -> Path:
    """The function's virtual environment, from its requirements.txt only (built once)."""
    requirements = spec.source_dir / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = CACHE / "venvs" / f"{spec.name}-{digest}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = _uv()
    subprocess.run([uv, "venv", "-q", "--python", _python(), str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-r", requirements],
        check=True,
    )
    (venv / ".complete").touch()
    return venv


def venv_size(venv: Path) -> tuple[int, int]:
    """(installed distributions, bytes on disk) of a function's environment."""
    site = next((venv / "lib").glob("python*/site-packages"))
    packages = len(list(site.glob("*.dist-info")))
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    return packages, size


class Function:
    """One deployed function: a functions-framework process behind its Cloud Run front."""

    def __init__(
        self,
        spec: FunctionSpec,
        source: Path,
        venv: Path,
        env: dict[str, str],
        timeout: float,
        instances: int,
        logs: Path,
    ):
        self.spec = spec
        self.source = source
        self.venv = venv
        self.env = env
        self.timeout = timeout
        self.port = free_port()
        self.log_path = logs / f"{spec.name}.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.ready_after = 0.0  # seconds from start to its first answer (cold start)
        self.front = _Front(self, instances)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.front.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        argv = [
            str(self.venv / "bin" / "functions-framework"),
            "--target=handle",  # build_config.entry_point in terraform/modules/stage
            "--signature-type=http",
            "--source=main.py",
            "--host=127.0.0.1",
            f"--port={self.port}",
        ]
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            argv,
            cwd=self.source,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its children (yt-dlp, ffmpeg) end with it
        )
        log.close()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                if "Connection in use" in self.tail(3):  # another process took the free port
                    self.port = free_port()
                    self.start()
                    continue
                raise RuntimeError(f"{self.spec.name} exited:\n{self.tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                self.ready_after = time.monotonic() - self.started_at
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.spec.name} did not start in {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL, as when Cloud Run stops an instance: nothing of the process survives."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def crashed(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class _Front(http.server.ThreadingHTTPServer):
    """Cloud Run in front of one function: forwards each request, answers 504 once the
    function's timeout has passed (the function is not stopped and may still finish and
    write), 503 while the process is down (starting again), 429 past `instances` requests in
    flight (max_instance_count with concurrency 1)."""

    daemon_threads = True

    def __init__(self, function: Function, instances: int):
        super().__init__(("127.0.0.1", 0), _FrontHandler)
        self.function = function
        self.slots = threading.BoundedSemaphore(instances)
        self.port = self.server_address[1]
        self.overruns = 0  # requests answered 504 while the function went on
        self.refused = 0  # requests answered 429: every instance busy
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    server: _Front

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        function = self.server.function
        if not self.server.slots.acquire(blocking=False):
            self.server.refused += 1
            self._answer(429, b"Rate exceeded.")
            return
        try:
            self._forward(function, method, body)
        finally:
            self.server.slots.release()

    def _forward(self, function: Function, method: str, body: bytes) -> None:
        result: dict = {}
        done = threading.Event()

        def call() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", function.port, timeout=3600)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(method, self.path, body or None, headers)
                reply = conn.getresponse()
                result["reply"] = (reply.status, reply.read())
            except OSError as exc:
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=call, daemon=True).start()
        if not done.wait(function.timeout):
            self.server.overruns += 1
            self._answer(504, b"upstream request timeout")  # the call goes on in its thread
        elif "error" in result:
            self._answer(503, b"Service Unavailable")
        else:
            self._answer(*result["reply"])

    def _answer(self, status: int, body: bytes) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
