"""Which LLM provider summarizes: `choose(settings)`.

`SVP_LLM_PROVIDER` when set; otherwise Gemini when `GEMINI_API_KEY` is set, else the
OpenAI-compatible provider when `SVP_LLM_BASE_URL` or `SVP_LLM_API_KEY` is set, else none (the
extractive summary). The providers themselves: svp.summary.gemini, svp.summary.openai_compat,
on the interface of svp.summary.llm.
"""

from __future__ import annotations

from svp.config import Settings
from svp.summary.llm import Provider


def resolve(settings: Settings) -> str:
    """The provider's name: gemini, openai or extractive."""
    if settings.llm_provider:
        return settings.llm_provider
    if settings.gemini_api_key:
        return "gemini"
    if settings.llm_base_url or settings.llm_api_key:
        return "openai"
    return "extractive"


def choose(settings: Settings) -> tuple[Provider | None, str]:
    """(provider, "") or (None, why the summary is written without an LLM)."""
    try:
        return _choose(settings)
    except ImportError as exc:  # a deployment without the provider's SDK: still write a page
        return None, f"the {resolve(settings)} provider's SDK is not installed ({exc})"


def _choose(settings: Settings) -> tuple[Provider | None, str]:
    name = resolve(settings)
    if name == "gemini":
        if not settings.gemini_api_key:
            return None, "SVP_LLM_PROVIDER=gemini but GEMINI_API_KEY is not set"
        from svp.summary.gemini import GeminiProvider

        return GeminiProvider(settings), ""
    if name == "openai":
        from svp.summary.openai_compat import OpenAICompatProvider, api_key

        if not api_key(settings) and not settings.llm_base_url:
            return (
                None,
                "SVP_LLM_PROVIDER=openai but neither SVP_LLM_API_KEY nor OPENAI_API_KEY is set",
            )
        return OpenAICompatProvider(settings), ""
    if settings.llm_provider == "extractive":
        return None, "SVP_LLM_PROVIDER=extractive: filled from the post's own words"
    return None, (
        "no LLM configured (GEMINI_API_KEY, or SVP_LLM_BASE_URL / SVP_LLM_PROVIDER=openai): "
        "filled from the post's own words"
    )
