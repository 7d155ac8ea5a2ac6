"""What each paid model costs: the one table the cost estimate reads (svp.summary.cost).

Read from the providers' own pages on AS_OF; a price variable (SVP_PRICE_*) overrides a row.
A model missing here is priced at 0 with the estimate saying so: a guess would look like a
bill. Aliases (`gemini-flash-latest`) are priced as the model they pointed to on AS_OF.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2026-12-06"


@dataclass(frozen=True)
class Price:
    unit: str  # "mtok" (USD per million tokens in / out), "minute", "1000 images"
    input: float
    output: float = 0.0
    source: str = ""
    note: str = ""


GEMINI_PRICING = "https://ai.google.dev/gemini-api/docs/pricing"
_GEMINI_38_FLASH = Price(
    "mtok",
    0.75,
    3.75,
    GEMINI_PRICING,
    "Standard tier, text; the page gives these through 2026-12-31 (1.50 / 7.50 announced after)",
)

PRICES: dict[str, Price] = {
    # Gemini (Developer API, paid tier, prompts up to 200k tokens)
    "gemini-flash-latest": _GEMINI_38_FLASH,  # the alias' target on AS_OF: Gemini 3.8 Flash
    "gemini-3.8-flash": _GEMINI_38_FLASH,
    "gemini-3.5-flash": Price("mtok", 1.50, 9.00, GEMINI_PRICING),
    "gemini-3.1-flash-lite": Price("mtok", 0.25, 1.50, GEMINI_PRICING),
    "gemini-2.5-flash": Price("mtok", 0.30, 2.50, GEMINI_PRICING, "shut down by Google"),
    # OpenAI chat (standard tier)
    "gpt-5.6-luna": Price(
        "mtok", 0.20, 1.20, "https://developers.openai.com/api/docs/models/gpt-5.6-luna"
    ),
    # OpenAI transcription (audio duration)
    "gpt-transcribe": Price(
        "minute", 0.0045, source="https://developers.openai.com/api/docs/models/gpt-transcribe"
    ),
    # Cloud Vision TEXT_DETECTION, units 1001-5,000,000 a month (the first 1000 are free)
    "vision-text-detection": Price(
        "1000 images", 1.50, source="https://cloud.google.com/vision/pricing"
    ),
}


def price_of(model: str) -> Price | None:
    return PRICES.get(model)
