"""Are the configured models served? For start-up and /health: `check_configured_models`.

Each model the configuration names is looked up with the provider's own models.get (Gemini's
`models.get`, OpenAI's `models.retrieve`): a 404 is a problem naming the model and the
variable to change; an OpenAI model with an announced shutdown date is named with the date.
Any other failure (no network, a bad key) is a problem too, said as such: the check cannot
tell whether the model exists. Nothing here raises: the caller decides what a problem means.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from svp.config import Settings
from svp.summary.providers import resolve

CHECK_TIMEOUT_SECONDS = 10.0


def check_configured_models(settings: Settings) -> list[str]:
    """One line per problem with the configured LLM and transcription models ([] = all fine)."""
    problems: list[str] = []
    provider = resolve(settings)
    if provider == "gemini" and settings.gemini_api_key:
        setting = "SVP_LLM_MODEL" if settings.llm_model else "SVP_GEMINI_MODEL"
        model = settings.llm_model or settings.gemini_model
        problems += _checked(model, setting, lambda: _gemini_model(settings, model))
    if provider == "openai":
        from svp.summary.openai_compat import DEFAULT_MODEL, api_key

        model = settings.llm_model or DEFAULT_MODEL
        problems += _checked(
            model,
            "SVP_LLM_MODEL",
            lambda: _openai_model(api_key(settings), settings.llm_base_url, model),
        )
    if settings.openai_api_key:  # transcription through OpenAI
        model = settings.transcribe_model
        problems += _checked(
            model,
            "SVP_TRANSCRIBE_MODEL",
            lambda: _openai_model(settings.openai_api_key, settings.openai_base_url, model),
        )
    return problems


def _checked(model: str, setting: str, look_up: Callable[[], str | None]) -> list[str]:
    """look_up() gives None (served) or a shutdown date; raises when it cannot tell."""
    try:
        shutdown = look_up()
    except _Missing as exc:
        return [f"the model {model} is not available: set {setting} ({exc})"]
    except Exception as exc:  # noqa: BLE001 - any failure: say the check could not be made
        return [f"the model {model} ({setting}) could not be checked: {type(exc).__name__}: {exc}"]
    if shutdown:
        when = "was shut down" if shutdown <= datetime.date.today().isoformat() else "shuts down"
        return [f"the model {model} {when} on {shutdown}: set {setting} to a current model"]
    return []


class _Missing(Exception):
    """The provider says the model does not exist (404)."""


def _gemini_model(settings: Settings, model: str) -> None:
    from google import genai
    from google.genai import errors, types

    options = types.HttpOptions(timeout=int(CHECK_TIMEOUT_SECONDS * 1000))
    if settings.gemini_base_url:
        options.base_url = settings.gemini_base_url
    client = genai.Client(api_key=settings.gemini_api_key, http_options=options)
    try:
        client.models.get(model=model)
    except errors.APIError as exc:
        if exc.code == 404:
            raise _Missing(f"HTTP 404 {exc.status or ''}: {(exc.message or '')[:200]}") from exc
        raise
    return None


def _openai_model(key: str, base_url: str, model: str) -> str | None:
    import openai

    client = openai.OpenAI(
        api_key=key or "not-needed",
        base_url=base_url or None,
        timeout=CHECK_TIMEOUT_SECONDS,
        max_retries=1,
    )
    try:
        found = client.models.retrieve(model)
    except openai.NotFoundError as exc:
        raise _Missing(f"HTTP 404: {exc.message[:200]}") from exc
    return getattr(found, "shutdown_date", None) or None
