"""Which stage publishes to which topic, and which stages each topic feeds.

The same table drives the local queue's subscriptions and matches terraform/pubsub.tf.
"""

from __future__ import annotations

STAGES = ("poller", "downloader", "transcriber", "ocr", "summarizer", "writer")

# stage -> topic it publishes to when its work for a job is done
OUTPUT_TOPIC = {
    "poller": "links",
    "downloader": "media",
    "transcriber": "extracted",
    "ocr": "extracted",
    "summarizer": "summaries",
}

# topic -> stages subscribed to it (each with its own subscription)
SUBSCRIBERS = {
    "links": ("downloader",),
    "media": ("transcriber", "ocr"),
    "extracted": ("summarizer",),
    "summaries": ("writer",),
}

# stage -> the topic it is subscribed to
INPUT_TOPIC = {stage: topic for topic, stages in SUBSCRIBERS.items() for stage in stages}

# Stages that must all be done before the next topic is published (the join).
JOIN = {"extracted": ("transcriber", "ocr")}

# What the Link Database's status shows while a stage runs.
STATUS_LABEL = {
    "poller": "queued",
    "downloader": "downloading",
    "transcriber": "transcribing",
    "ocr": "reading text",
    "summarizer": "summarizing",
    "writer": "writing",
}

PIPELINE = tuple(stage for stage in STAGES if stage != "poller")

# The stage whose completion feeds each stage (for a join, the last of the joined ones): a
# stage is re-driven by publishing that stage's message again.
UPSTREAM = {
    stage: next(
        source
        for source, topic in reversed(OUTPUT_TOPIC.items())
        if topic == INPUT_TOPIC[stage] and source in JOIN.get(topic, (source,))
    )
    for stage in PIPELINE
}

# Stages that parse untrusted content (yt-dlp, gallery-dl, ffmpeg, PyAV on what anyone can
# link to) hold no Notion credentials: their status waits in the job's outbox, which the
# poller's reconciler (every poll) and the next stage send (svp.notion.status).
NOTION_FREE = ("downloader", "transcriber", "ocr")


def topic_name(prefix: str, topic: str) -> str:
    return f"{prefix}{topic}"


def push_subscription(prefix: str, stage: str) -> str:
    """A stage's push subscription (terraform/modules/stage)."""
    return f"{prefix}{stage}-push"


def stage_of_subscription(prefix: str, subscription: str) -> str | None:
    """The stage a push subscription (short name or full path) feeds, if any."""
    name = subscription.rsplit("/", 1)[-1]
    return next((s for s in PIPELINE if name == push_subscription(prefix, s)), None)


def dead_letter_topic(prefix: str, stage: str) -> str:
    return f"{prefix}{stage}-dead-letter"


def dead_letter_subscription(prefix: str, stage: str) -> str:
    """The pull subscription on a stage's dead-letter topic (terraform/modules/stage)."""
    return f"{prefix}{stage}-dead-letter-sub"
