"""HTTP fakes of the SaaS APIs this project calls, for tests.

Each fake is a real HTTP server on 127.0.0.1 (a free port), used through the real SDK:

    with FakeNotion() as notion:
        client = notion_client.Client(auth=notion.token, base_url=notion.base_url)

Every fake logs what it received (``fake.requests``: method, path, headers, parsed JSON)
and can inject failures (``fake.fail_next(...)``).
"""

from .gemini import FakeGemini
from .notion import FakeNotion, plain, to_notion_value
from .openai import FakeOpenAI
from .vision import FakeVision

__all__ = ["FakeGemini", "FakeNotion", "FakeOpenAI", "FakeVision", "plain", "to_notion_value"]
