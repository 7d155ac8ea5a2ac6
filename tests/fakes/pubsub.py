"""A minimal in-memory Pub/Sub gRPC server for tests (no emulator can be installed offline).

The real clients talk to it when ``PUBSUB_EMULATOR_HOST=fake.host`` (they then use an
insecure channel and anonymous credentials). It implements Publisher/CreateTopic, GetTopic,
DeleteTopic, Publish and Subscriber/CreateSubscription, GetSubscription, DeleteSubscription,
Pull, Acknowledge, ModifyAckDeadline; anything else answers UNIMPLEMENTED (so StreamingPull,
i.e. ``SubscriberClient.subscribe``, is not available: use ``pull``).

Semantics kept from the real service: publishing to an unknown topic is NOT_FOUND; a
subscription gets only messages published after it was created; a pulled message is leased
for the subscription's ack deadline and redelivered (same message id) unless acknowledged;
ModifyAckDeadline with 0 nacks. Pull returns at once, empty when nothing is waiting.

Names may be short (``"jobs"``) in the helpers; they are expanded with ``fake.project``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types as ps


@dataclass
class _Subscription:
    name: str
    topic: str
    ack_deadline_s: int
    pending: deque[ps.PubsubMessage] = field(default_factory=deque)
    leased: dict[str, tuple[ps.PubsubMessage, float]] = field(default_factory=dict)


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FakePubSub:
    def __init__(self, project: str = "test-project") -> None:
        self.project = project
        self.topics: dict[str, list[ps.PubsubMessage]] = {}  # full topic path -> published
        self.subscriptions: dict[str, _Subscription] = {}
        self.calls: list[tuple[str, Any]] = []  # (method, request) as received
        self._failures: dict[str, deque[tuple[grpc.StatusCode, str]]] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server: grpc.Server | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
            server.add_generic_rpc_handlers((_Handler(self),))
            self._port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the value for PUBSUB_EMULATOR_HOST."""
        if self._server is None:
            raise RuntimeError("FakePubSub is not started")
        return f"127.0.0.1:{self._port}"

    # -- test helpers ------------------------------------------------------------------

    def topic_path(self, topic: str) -> str:
        return topic if topic.startswith("projects/") else f"projects/{self.project}/topics/{topic}"

    def subscription_path(self, name: str) -> str:
        if name.startswith("projects/"):
            return name
        return f"projects/{self.project}/subscriptions/{name}"

    def add_topic(self, topic: str) -> str:
        path = self.topic_path(topic)
        with self._lock:
            self.topics.setdefault(path, [])
        return path

    def add_subscription(self, name: str, topic: str, ack_deadline_s: int = 10) -> str:
        """Declare a pull subscription (creating the topic if needed); returns its path."""
        path = self.subscription_path(name)
        with self._lock:
            topic_path = self.add_topic(topic)
            self.subscriptions[path] = _Subscription(path, topic_path, ack_deadline_s)
        return path

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str] | None = None) -> str:
        """Inject a message as if published (e.g. a dead letter); returns its id."""
        message = ps.PubsubMessage(data=data, attributes=dict(attributes or {}))
        with self._lock:
            return self._publish(self.topic_path(topic), [message])[0]

    def messages(self, topic: str) -> list[ps.PubsubMessage]:
        """Everything published to `topic` so far (acked or not)."""
        with self._lock:
            return list(self.topics.get(self.topic_path(topic), []))

    def backlog(self, subscription: str) -> int:
        """Messages waiting or leased (not yet acknowledged) on `subscription`."""
        with self._lock:
            sub = self.subscriptions[self.subscription_path(subscription)]
            return len(sub.pending) + len(sub.leased)

    def fail_next(self, method: str, code: grpc.StatusCode, times: int = 1) -> None:
        """Answer the next `times` calls of `method` (e.g. "Publish") with status `code`."""
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend((code, f"injected {code.name} from FakePubSub") for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.topics.clear()
            self.subscriptions.clear()
            self.calls.clear()
            self._failures.clear()

    # -- RPCs (called with self._lock held) --------------------------------------------

    def _publish(self, topic: str, messages: list[ps.PubsubMessage]) -> list[str]:
        if topic not in self.topics:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {topic}")
        ids = []
        for message in messages:
            if not message.data and not message.attributes:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "message has no data or attributes")
        for message in messages:
            stored = ps.PubsubMessage(
                data=message.data,
                attributes=dict(message.attributes),
                ordering_key=message.ordering_key,
                message_id=str(next(self._ids)),
                publish_time=datetime.now(UTC),
            )
            self.topics[topic].append(stored)
            for sub in self.subscriptions.values():
                if sub.topic == topic:
                    sub.pending.append(stored)
            ids.append(stored.message_id)
        return ids

    def _sub(self, name: str) -> _Subscription:
        sub = self.subscriptions.get(name)
        if sub is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Subscription does not exist: {name}")
        return sub

    def _rpc_create_topic(self, req: ps.Topic) -> ps.Topic:
        if req.name in self.topics:
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"Topic already exists: {req.name}")
        self.topics[req.name] = []
        return ps.Topic(name=req.name)

    def _rpc_get_topic(self, req: ps.GetTopicRequest) -> ps.Topic:
        if req.topic not in self.topics:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {req.topic}")
        return ps.Topic(name=req.topic)

    def _rpc_delete_topic(self, req: ps.DeleteTopicRequest) -> empty_pb2.Empty:
        if self.topics.pop(req.topic, None) is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {req.topic}")
        return empty_pb2.Empty()

    def _rpc_publish(self, req: ps.PublishRequest) -> ps.PublishResponse:
        return ps.PublishResponse(message_ids=self._publish(req.topic, list(req.messages)))

    def _rpc_create_subscription(self, req: ps.Subscription) -> ps.Subscription:
        if req.name in self.subscriptions:
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"Subscription exists: {req.name}")
        if req.topic not in self.topics:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {req.topic}")
        deadline = req.ack_deadline_seconds or 10
        self.subscriptions[req.name] = _Subscription(req.name, req.topic, deadline)
        return ps.Subscription(name=req.name, topic=req.topic, ack_deadline_seconds=deadline)

    def _rpc_get_subscription(self, req: ps.GetSubscriptionRequest) -> ps.Subscription:
        sub = self._sub(req.subscription)
        return ps.Subscription(
            name=sub.name, topic=sub.topic, ack_deadline_seconds=sub.ack_deadline_s
        )

    def _rpc_delete_subscription(self, req: ps.DeleteSubscriptionRequest) -> empty_pb2.Empty:
        self._sub(req.subscription)
        del self.subscriptions[req.subscription]
        return empty_pb2.Empty()

    def _rpc_pull(self, req: ps.PullRequest) -> ps.PullResponse:
        sub = self._sub(req.subscription)
        if req.max_messages <= 0:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "max_messages must be positive")
        now = time.monotonic()
        for ack_id, (message, expiry) in list(sub.leased.items()):
            if expiry <= now:  # lease ran out: redeliver
                del sub.leased[ack_id]
                sub.pending.append(message)
        received = []
        while sub.pending and len(received) < req.max_messages:
            message = sub.pending.popleft()
            ack_id = f"{sub.name}:{next(self._ids)}"
            sub.leased[ack_id] = (message, now + sub.ack_deadline_s)
            received.append(ps.ReceivedMessage(ack_id=ack_id, message=message))
        return ps.PullResponse(received_messages=received)

    def _rpc_acknowledge(self, req: ps.AcknowledgeRequest) -> empty_pb2.Empty:
        sub = self._sub(req.subscription)
        if not req.ack_ids:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "ack_ids is empty")
        for ack_id in req.ack_ids:
            sub.leased.pop(ack_id, None)  # unknown or expired ids are ignored, as in Pub/Sub
        return empty_pb2.Empty()

    def _rpc_modify_ack_deadline(self, req: ps.ModifyAckDeadlineRequest) -> empty_pb2.Empty:
        sub = self._sub(req.subscription)
        for ack_id in req.ack_ids:
            if ack_id in sub.leased:
                message, _ = sub.leased[ack_id]
                if req.ack_deadline_seconds == 0:
                    del sub.leased[ack_id]
                    sub.pending.appendleft(message)
                else:
                    sub.leased[ack_id] = (message, time.monotonic() + req.ack_deadline_seconds)
        return empty_pb2.Empty()

    # -- dispatch ----------------------------------------------------------------------

    def _call(self, method: str, impl: Callable[[Any], Any], req: Any, ctx: Any) -> Any:
        with self._lock:
            self.calls.append((method, req))
            queue = self._failures.get(method)
            failure = queue.popleft() if queue else None
            if failure is None:
                try:
                    return impl(req)
                except _Abort as exc:
                    failure = (exc.code, exc.message)
        ctx.abort(*failure)


def _serialize(message: Any) -> bytes:
    if isinstance(message, empty_pb2.Empty):
        return message.SerializeToString()
    return type(message).serialize(message)


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, fake: FakePubSub) -> None:
        p, s = "/google.pubsub.v1.Publisher/", "/google.pubsub.v1.Subscriber/"
        self._methods: dict[str, tuple[str, type, Callable[[Any], Any]]] = {
            p + "CreateTopic": ("CreateTopic", ps.Topic, fake._rpc_create_topic),
            p + "GetTopic": ("GetTopic", ps.GetTopicRequest, fake._rpc_get_topic),
            p + "DeleteTopic": ("DeleteTopic", ps.DeleteTopicRequest, fake._rpc_delete_topic),
            p + "Publish": ("Publish", ps.PublishRequest, fake._rpc_publish),
            s + "CreateSubscription": (
                "CreateSubscription",
                ps.Subscription,
                fake._rpc_create_subscription,
            ),
            s + "GetSubscription": (
                "GetSubscription",
                ps.GetSubscriptionRequest,
                fake._rpc_get_subscription,
            ),
            s + "DeleteSubscription": (
                "DeleteSubscription",
                ps.DeleteSubscriptionRequest,
                fake._rpc_delete_subscription,
            ),
            s + "Pull": ("Pull", ps.PullRequest, fake._rpc_pull),
            s + "Acknowledge": ("Acknowledge", ps.AcknowledgeRequest, fake._rpc_acknowledge),
            s + "ModifyAckDeadline": (
                "ModifyAckDeadline",
                ps.ModifyAckDeadlineRequest,
                fake._rpc_modify_ack_deadline,
            ),
        }
        self._fake = fake

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        entry = self._methods.get(handler_call_details.method)
        if entry is None:
            return None  # grpc answers UNIMPLEMENTED
        name, request_type, impl = entry

        def behaviour(req: Any, ctx: Any) -> Any:
            return self._fake._call(name, impl, req, ctx)

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=request_type.deserialize,
            response_serializer=_serialize,
        )
