"""Ready-made pytest fixtures for the fakes.

Enable them in a conftest.py with ``pytest_plugins = ["tests.fakes.fixtures"]``, or import
the ones you need into a test module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .gemini import FakeGemini
from .notion import FakeNotion
from .openai import FakeOpenAI
from .vision import FakeVision


@pytest.fixture
def fake_notion() -> Iterator[FakeNotion]:
    with FakeNotion() as fake:
        yield fake


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """Set ``fake_gemini.responder`` in the test to shape the answers."""
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """Set ``fake_openai.transcriber`` / ``.chat_responder`` in the test."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_vision() -> Iterator[FakeVision]:
    """Set ``fake_vision.responder`` in the test."""
    with FakeVision() as fake:
        yield fake
