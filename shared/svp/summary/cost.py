"""An estimated cost per job, from what its stages recorded and configurable prices.

What is counted (everything else is local and free):

* LLM tokens in and out, from the summarizer's output (`usage`, or the older `tokens`),
  repair and failed-then-fallen-back calls included, at `SVP_PRICE_INPUT_PER_MTOK` and
  `SVP_PRICE_OUTPUT_PER_MTOK` US dollars per million tokens (defaults: Gemini 2.5 Flash's
  list prices, 0.30 and 2.50; set 0 for a local model);
* transcription minutes, from the transcriber's output, when its engine was `openai`, at
  `SVP_PRICE_TRANSCRIBE_PER_MINUTE` (default 0.006);
* OCR images, from the OCR stage's output (`frames_sent`, else `frames`, plus the
  `picture_checks` made to choose the page's frame), when its engine was
  `vision`, at `SVP_PRICE_OCR_PER_1000_IMAGES` (default 1.50; free tiers are not subtracted).
"""

from __future__ import annotations

from typing import Any

from svp.config import Settings


def _output(job: dict[str, Any], stage: str) -> dict[str, Any]:
    record = (job.get("stages") or {}).get(stage) or {}
    return record.get("output") or {}


def tokens_of(summarizer_output: dict[str, Any]) -> tuple[int, int]:
    usage = summarizer_output.get("usage") or {}
    return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)


def estimate(job: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """{"llm": {...}, "transcription": {...}, "ocr": {...}, "total_usd": float}."""
    summarizer = _output(job, "summarizer")
    tokens_in, tokens_out = tokens_of(summarizer)
    llm_usd = (
        tokens_in * settings.price_input_per_mtok + tokens_out * settings.price_output_per_mtok
    ) / 1_000_000

    transcriber = _output(job, "transcriber")
    speech_engine = transcriber.get("engine", "")
    minutes = float(transcriber.get("minutes") or 0) if speech_engine == "openai" else 0.0
    speech_usd = minutes * settings.price_transcribe_per_minute

    ocr = _output(job, "ocr")
    ocr_engine = ocr.get("engine") or (settings.ocr_engine if ocr else "")
    read = int(ocr.get("frames_sent", ocr.get("frames")) or 0) + int(ocr.get("picture_checks") or 0)
    images = read if ocr_engine == "vision" else 0
    ocr_usd = images * settings.price_ocr_per_1000_images / 1000

    return {
        "llm": {
            "engine": summarizer.get("engine", ""),
            "model": summarizer.get("model", ""),
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "usd": round(llm_usd, 6),
        },
        "transcription": {"engine": speech_engine, "minutes": minutes, "usd": round(speech_usd, 6)},
        "ocr": {"engine": ocr_engine, "images": images, "usd": round(ocr_usd, 6)},
        "total_usd": round(llm_usd + speech_usd + ocr_usd, 6),
    }


def describe(cost: dict[str, Any]) -> str:
    """One line for `svp jobs`: "$0.0012 (LLM 1200 in / 300 out tokens; 0.2 min; 6 images)"."""
    parts = []
    llm = cost["llm"]
    if llm["input_tokens"] or llm["output_tokens"]:
        parts.append(f"LLM {llm['input_tokens']} in / {llm['output_tokens']} out tokens")
    if cost["transcription"]["minutes"]:
        parts.append(f"{cost['transcription']['minutes']:g} min transcribed")
    if cost["ocr"]["images"]:
        parts.append(f"{cost['ocr']['images']} OCR images")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"${cost['total_usd']:.4f}{detail}"
