"""Two kinds of failure decide what happens to a message: ack and fail the job, or retry."""

from __future__ import annotations


class StageError(Exception):
    """Base of the errors a stage raises on purpose, with a reason a person can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PermanentError(StageError):
    """Retrying cannot help (bad URL, private video, no media): fail the job, ack the message."""


class TransientError(StageError):
    """Retrying may help (network, 429, 5xx, timeouts): the message is nacked and redelivered."""
