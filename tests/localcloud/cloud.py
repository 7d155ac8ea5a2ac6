"""The deployment on one machine: every function from its own requirements, on Google's own
emulators, wired as terraform/ wires them.

- Firestore and Pub/Sub: Google's emulators (the Google Cloud CLI's components). Topics, each
  stage's push subscription (ack deadline, retry policy, dead-letter policy), each dead-letter
  topic's pull subscription (what `svp replay` reads) and push subscription (to the poller's
  /dead-letter path) are made from svp.topology with Terraform's settings.
- Cloud Storage: fake-gcs-server. Secret Manager: its fake (tests/fakes/secretmanager.py), with
  a version of every secret Terraform creates, as `svp cloud setup` leaves them. Notion,
  Gemini, OpenAI and Vision: the HTTP fakes, which the caller starts and shapes. Cloud
  Scheduler: the HTTP call it makes, to the poller, on a timer.
- Each function gets the environment variables its Terraform module call sets (SVP_SECRETS
  naming the secrets it reads at run time: tests.localcloud.terraform), the emulators' and
  fakes' addresses (what Google Cloud and the real services' default endpoints are there), and
  the test knobs it is given.

Time is scaled: every function's timeout (limits.json, which Terraform deploys) is multiplied
by `time_scale` through SVP_LIMITS_SCALE, in the function (its own deadline) and in its Cloud
Run front (the 504), so faults settle in seconds.

Pub/Sub's emulator pushes without `deliveryAttempt` (a real push subscription with a
dead-letter policy sends it): the stages then count their own runs in the job document
(SVP_MAX_ATTEMPTS), and the subscription's dead-letter policy still ends what never ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from svp import limits, topology
from tests.localcloud.functions import Function, build_source, environment, free_port
from tests.localcloud.terraform import Terraform

PROJECT = "local-project"
BUCKET = "svp-artifacts"
PREFIX = "svp-"
# The pipeline and what feeds it; the api (people's sign-in) is not part of the local cloud.
FUNCTIONS = ("poller", "webhook", *topology.PIPELINE)
# What Terraform's resources are named here.
RESOURCES = {
    "google_storage_bucket.artifacts.name": BUCKET,
    "google_firestore_database.this.name": "(default)",
    "data.google_project.this.number": "0",
}


class LocalCloud:
    def __init__(
        self,
        workdir: Path,
        *,
        notion: Any,
        gemini: Any,
        openai: Any,
        vision: Any,
        variables: dict[str, Any] | None = None,
        knobs: dict[str, str] | None = None,
        time_scale: float = 1.0,
        poll_every: float = 60.0,
        backoff: tuple[float, float] = (10.0, 600.0),
        functions: tuple[str, ...] = FUNCTIONS,
        secrets_set: bool = True,
    ):
        self.workdir = workdir
        self.fakes = {"notion": notion, "gemini": gemini, "openai": openai, "vision": vision}
        self.variables = {"project_id": PROJECT, "prefix": PREFIX, **(variables or {})}
        self.knobs = knobs or {}
        self.time_scale = time_scale
        self.poll_every = poll_every
        self.backoff = backoff
        self.names = functions
        self.secrets_set = secrets_set  # False: as `terraform apply` leaves them, no version
        self.functions: dict[str, Function] = {}
        self.secrets = {
            "notion-token": notion.token,
            "encryption-key": Fernet.generate_key().decode(),
            "openai-api-key": "sk-local-cloud",
            "gemini-api-key": "local-cloud-gemini-key",
            "notion-client-secret": "local-cloud-client-secret",
            "webhook-token": "none",
            "session-secret": "local-cloud-session-secret",
        }
        self.polls: list[tuple[float, int]] = []  # (start, status) of each scheduler tick
        self._stack = contextlib.ExitStack()
        self._ticking = threading.Event()
        self._env_before: dict[str, str | None] = {}

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticking.clear()
        for function in self.functions.values():
            function.kill()
            function.front.shutdown()
        self._stack.close()

    def _start(self) -> None:
        from tests.emulators import (
            _fake_gcs_binary,
            _http_ok,
            _Process,
            start_firestore_emulator,
            start_pubsub_emulator,
        )

        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        firestore_port, pubsub_port, gcs_port = free_port(), free_port(), free_port()
        self.hosts = {
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs_port}",
        }
        self._stack.callback(start_firestore_emulator(firestore_port).stop)
        self._stack.callback(start_pubsub_emulator(pubsub_port, PROJECT).stop)
        gcs_url = self.hosts["STORAGE_EMULATOR_HOST"]
        gcs = _Process(
            "fake-gcs-server",
            [
                *(str(_fake_gcs_binary()), "-scheme", "http", "-host", "127.0.0.1"),
                *("-port", str(gcs_port), "-backend", "memory", "-external-url", gcs_url),
                *("-log-level", "warn"),
            ],
        )
        self._stack.callback(gcs.stop)
        gcs.wait_ready(lambda: _http_ok(f"{gcs_url}/storage/v1/b"))
        for name, value in self.hosts.items():  # for this process's own clients
            self._env_before[name] = os.environ.get(name)
            os.environ[name] = value
        self._stack.callback(self._restore_env)
        _forget_pubsub_clients()  # made for an earlier cloud's emulator
        self._stack.callback(_forget_pubsub_clients)
        self._make_bucket()
        self.terraform = Terraform(self.variables, RESOURCES)
        self._make_secrets()
        self._start_functions()
        self._make_topology()
        self._ticking.set()
        threading.Thread(target=self._scheduler, daemon=True).start()

    def _restore_env(self) -> None:
        for name, value in self._env_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _make_bucket(self) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
        client.create_bucket(BUCKET)

    def _make_secrets(self) -> None:
        """Every secret Terraform creates; with a version (what `svp cloud setup` stores)
        unless the cloud starts as `terraform apply` leaves it."""
        from tests.fakes.secretmanager import FakeSecretManager

        self.secret_manager = FakeSecretManager(project=PROJECT)
        self._stack.enter_context(self.secret_manager)
        for key, value in self.secrets.items():
            secret_id = f"{PREFIX}{key}"
            self.secret_manager.create_secret(secret_id)
            if self.secrets_set:
                self.secret_manager.add_version(secret_id, value)

    # -- functions -------------------------------------------------------------------------
    def _start_functions(self) -> None:
        sources = self.workdir / "sources"
        instances = int(self.terraform.variables["max_instances"])
        for name in self.names:
            spec = self.terraform.function(name)
            function = Function(
                spec,
                build_source(spec, sources),
                environment(spec),
                self._function_env(spec),
                timeout=limits.timeout_seconds(name) * self.time_scale,
                instances=instances,
                logs=self.workdir / "logs",
            )
            self.functions[name] = function
            function.start()
        for function in self.functions.values():
            function.wait_ready()

    def _function_env(self, spec: Any) -> dict[str, str]:
        fakes = self.fakes
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost",
            # What Cloud Run sets.
            "K_SERVICE": f"{PREFIX}{spec.name}",
            "FUNCTION_TARGET": "handle",
            "FUNCTION_SIGNATURE_TYPE": "http",
            **spec.environment,
            **{name: self.secrets[secret] for name, secret in spec.mounted.items()},
            # Google Cloud's endpoints here: the emulators and the fakes.
            **self.hosts,
            "SVP_SECRET_MANAGER_ENDPOINT": self.secret_manager.base_url,
            "NOTION_BASE_URL": fakes["notion"].base_url,
            "GOOGLE_GEMINI_BASE_URL": fakes["gemini"].base_url,
            "OPENAI_BASE_URL": fakes["openai"].base_url + "/v1",
            "SVP_VISION_ENDPOINT": fakes["vision"].base_url,
            "SVP_LIMITS_SCALE": str(self.time_scale),
            **self.knobs,
        }
        return env

    def restart(self, name: str) -> None:
        """Kill the function (SIGKILL) and start it again, as Cloud Run replaces an instance."""
        function = self.functions[name]
        function.kill()
        function.start()
        function.wait_ready()

    def url(self, name: str) -> str:
        return self.functions[name].url

    def crashed(self) -> list[str]:
        return [n for n, f in self.functions.items() if f.crashed()]

    def logs(self, name: str) -> str:
        return self.functions[name].log_path.read_text(errors="replace")

    # -- Pub/Sub -----------------------------------------------------------------------------
    def _make_topology(self) -> None:
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2

        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        self._stack.callback(subscriber.close)
        topics = {*topology.SUBSCRIBERS, *topology.OUTPUT_TOPIC.values()}
        for topic in sorted(topics):
            publisher.create_topic(name=publisher.topic_path(PROJECT, f"{PREFIX}{topic}"))
        deliveries = int(self.terraform.variables["max_delivery_attempts"])
        low, high = (duration_pb2.Duration(seconds=int(s)) for s in self.backoff)
        retry = {"minimum_backoff": low, "maximum_backoff": high}
        poller = self.functions.get("poller")
        for name in self.names:
            spec = self.terraform.function(name)
            if spec.source_topic is None:
                continue
            dead = publisher.topic_path(PROJECT, topology.dead_letter_topic(PREFIX, name))
            publisher.create_topic(name=dead)
            ack = min(600, max(10, int(self.functions[name].timeout) + 5))
            subscriber.create_subscription(
                request={
                    "name": subscriber.subscription_path(
                        PROJECT, topology.push_subscription(PREFIX, name)
                    ),
                    "topic": publisher.topic_path(PROJECT, f"{PREFIX}{spec.source_topic}"),
                    "push_config": {"push_endpoint": self.url(name) + "/"},
                    "ack_deadline_seconds": ack,
                    "retry_policy": retry,
                    "dead_letter_policy": {
                        "dead_letter_topic": dead,
                        "max_delivery_attempts": deliveries,
                    },
                }
            )
            subscriber.create_subscription(
                request={
                    "name": subscriber.subscription_path(
                        PROJECT, topology.dead_letter_subscription(PREFIX, name)
                    ),
                    "topic": dead,
                    "ack_deadline_seconds": 600,
                }
            )
            if spec.dead_letters_to_poller and poller is not None:
                subscriber.create_subscription(
                    request={
                        "name": subscriber.subscription_path(
                            PROJECT, f"{PREFIX}{name}-dead-letter-push"
                        ),
                        "topic": dead,
                        "push_config": {"push_endpoint": poller.url + "/dead-letter"},
                        "ack_deadline_seconds": 120,
                        "retry_policy": retry,
                    }
                )

    def dead_letters(self, stage: str) -> list[dict[str, Any]]:
        """The messages waiting in `stage`'s dead-letter pull subscription (left there)."""
        from google.cloud import pubsub_v1

        with pubsub_v1.SubscriberClient() as subscriber:
            path = subscriber.subscription_path(
                PROJECT, topology.dead_letter_subscription(PREFIX, stage)
            )
            reply = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=10)
            found = [dict(m.message.attributes) for m in reply.received_messages]
            ids = [m.ack_id for m in reply.received_messages]
            if ids:  # back at once, for the next reader
                subscriber.modify_ack_deadline(
                    request={"subscription": path, "ack_ids": ids, "ack_deadline_seconds": 0}
                )
        return found

    # -- Cloud Scheduler ---------------------------------------------------------------------
    def tick(self) -> int:
        """One scheduler call to the poller (POST, JSON body, as scheduler.tf sends)."""
        started = time.time()
        request = urllib.request.Request(
            self.url("poller") + "/",
            data=json.dumps({"source": "scheduler"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as reply:
                status = reply.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        self.polls.append((started, status))
        return status

    def _scheduler(self) -> None:
        while self._ticking.is_set():
            threading.Thread(target=self.tick, daemon=True).start()
            time.sleep(self.poll_every)

    def pause_scheduler(self) -> None:
        self._ticking.clear()


def _forget_pubsub_clients() -> None:
    from svp.adapters import pubsub_bus

    pubsub_bus._clients.clear()
