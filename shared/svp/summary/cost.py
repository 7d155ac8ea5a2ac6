"""An estimated cost per job, from what its stages recorded and configurable prices.

What is counted (everything else is local and free):

* LLM tokens in and out, from the summarizer's output (`usage`, or the older `tokens`),
  repair and failed-then-fallen-back calls included, at the price of the model it names;
* transcription minutes, from the transcriber's output, when its engine was `openai`, at the
  price of SVP_TRANSCRIBE_MODEL;
* OCR images, from the OCR stage's output (`frames_sent`, else `frames`, plus the
  `picture_checks` made to choose the page's frame), when its engine was `vision` (free tiers
  are not subtracted).

Prices come from the one table, svp.summary.prices (with its date and sources); the
variables SVP_PRICE_INPUT_PER_MTOK / _OUTPUT_PER_MTOK / _TRANSCRIBE_PER_MINUTE /
_OCR_PER_1000_IMAGES override it (0 for a local model). A model the table does not know
costs 0, and `unpriced` names it.
"""

from __future__ import annotations

from typing import Any

from svp.config import Settings
from svp.summary.prices import price_of

VISION = "vision-text-detection"  # the Vision feature's row in the price table


def _rates(model: str, *overrides: float | None) -> tuple[list[float], bool]:
    """(rates, known): the overrides where set, else the table's input/output for `model`."""
    row = price_of(model) if model else None
    table = [row.input, row.output] if row else [0.0, 0.0]
    rates = [o if o is not None else t for o, t in zip(overrides, table, strict=False)]
    return rates, row is not None or all(o is not None for o in overrides)


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
    unpriced: list[str] = []
    llm_model = str(summarizer.get("model") or "")
    (per_in, per_out), known = _rates(
        llm_model, settings.price_input_per_mtok, settings.price_output_per_mtok
    )
    if llm_model and not known and (tokens_in or tokens_out):
        unpriced.append(llm_model)
    llm_usd = (tokens_in * per_in + tokens_out * per_out) / 1_000_000

    transcriber = _output(job, "transcriber")
    speech_engine = transcriber.get("engine", "")
    minutes = float(transcriber.get("minutes") or 0) if speech_engine == "openai" else 0.0
    (per_minute,), known = _rates(settings.transcribe_model, settings.price_transcribe_per_minute)
    if minutes and not known:
        unpriced.append(settings.transcribe_model)
    speech_usd = minutes * per_minute

    ocr = _output(job, "ocr")
    ocr_engine = ocr.get("engine") or (settings.ocr_engine if ocr else "")
    read = int(ocr.get("frames_sent", ocr.get("frames")) or 0) + int(ocr.get("picture_checks") or 0)
    images = read if ocr_engine == "vision" else 0
    (per_1000,), _ = _rates(VISION, settings.price_ocr_per_1000_images)
    ocr_usd = images * per_1000 / 1000

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
        "unpriced": unpriced,
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
