"""From gathered content and a target schema to the summary: ask, verify, repair, fall back.

1. The provider (see `providers.choose`) gets the instructions, the labelled and budgeted
   inputs (`prompt.build_prompt`) and the JSON schema built from the database
   (`json_schema.response_schema`).
2. The answer is parsed, checked and coerced (`validate.check_answer`). Invalid JSON, a wrong
   shape or values that cannot be made valid get one repair: the model sees its answer and
   the errors. Values still invalid after it are dropped with a note and the page is marked
   for review.
3. No provider, a provider still failing after its retries, or a second unusable answer: the
   extractive summary (`extractive.extract`) fills the schema from the post's own words and
   the page is marked for review. The link is never lost.
4. Each filled value gets its evidence (`evidence.evidence_for`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from svp import limits
from svp.config import Settings
from svp.errors import PermanentError
from svp.summary import extractive, llm, providers
from svp.summary.content import Content
from svp.summary.evidence import evidence_for
from svp.summary.json_schema import response_schema
from svp.summary.prompt import Prompt, build_prompt
from svp.summary.targets import Schema, source_property
from svp.summary.validate import AnswerError, Checked, check_answer, parse_json

log = logging.getLogger("svp.summary")

REPAIR = (
    "Your previous answer could not be used: {errors}.\n"
    "Answer again with only the JSON object, following the schema exactly (field names, "
    "types, option names). Leave a field out when the material does not say it."
)


def summarize(
    content: Content,
    schema: Schema,
    settings: Settings,
    *,
    user_prompt: str = "",
    many: bool = False,
    language: str = "",
    deadline: float | None = None,
) -> dict[str, Any]:
    """The summary document (without `content`): see svp.stages.summarizer for its shape."""
    notes: list[str] = []
    usage = {"input_tokens": 0, "output_tokens": 0}
    language = language or settings.output_language
    prompt = build_prompt(
        content,
        budget=settings.llm_input_chars,
        user_prompt=user_prompt,
        many=many,
        language=language,
    )
    provider, why_not = providers.choose(settings)
    checked: Checked | None = None
    if provider is None:
        notes.append(why_not)
    else:
        checked = _asked(provider, prompt, schema, many, notes, usage, settings, deadline)

    if checked is not None and provider is not None:
        engine, model = provider.engine, provider.model
        items = checked.items
        needs_review = bool(checked.problems)
        text = checked.summary
    else:
        engine, model = "extractive", ""
        items = [extractive.extract(content, schema)]
        needs_review = True
        text = ""
        if many:
            notes.append("several items need an LLM: the fallback wrote one entry")
    items = [_pin_source(item, schema, content) for item in items]
    return {
        "items": items,
        "evidence": evidence_for(items, content),
        "engine": engine,
        "model": model,
        "needs_review": needs_review,
        "notes": notes,
        "summary": text or extractive.describe(content, schema, items[0] if items else {}),
        "usage": usage,
    }


def _asked(
    provider: llm.Provider,
    prompt: Prompt,
    schema: Schema,
    many: bool,
    notes: list[str],
    usage: dict[str, int],
    settings: Settings,
    deadline: float | None,
) -> Checked | None:
    """The provider's checked answer, or None (with the reason first in `notes`)."""
    if prompt.trimmed:
        notes.append(
            f"inputs over the budget of {settings.llm_input_chars} characters were trimmed "
            f"at a word boundary ({'; '.join(prompt.trimmed)})"
        )
    if deadline is not None:
        provider.deadline = deadline
    checked: Checked | None = None
    failure = ""
    try:
        checked = ask_and_verify(provider, prompt, schema, many, notes, usage)
    except llm.ModelUnavailable as exc:
        # Configuration, not an outage: the link fails with the setting to change, instead
        # of every page quietly going to review.
        raise PermanentError(str(exc)) from exc
    except llm.ProviderError as exc:
        failure = f"{provider.label} failed ({exc}); filled without an LLM"
    except AnswerError as exc:
        failure = f"{provider.label} failed: {exc}; filled without an LLM"
    if failure:
        log.warning(failure)
        notes.insert(0, failure)  # first: the page's review notice starts with it
    notes += provider.notes
    return checked


def _pin_source(item: dict[str, Any], schema: Schema, content: Content) -> dict[str, Any]:
    """The property holding the video's link gets the link, never a model's guess."""
    item = dict(item)
    if name := source_property(schema):
        if content.url:
            item[name] = content.url
        else:
            item.pop(name, None)
    return item


def ask_and_verify(
    provider: llm.Provider,
    prompt: Prompt,
    schema: Schema,
    many: bool,
    notes: list[str],
    usage: dict[str, int],
) -> Checked:
    """The checked answer, after at most one repair; raises AnswerError or ProviderError."""
    answer_schema = response_schema(schema, many=many)
    turns: llm.Turns = [("user", prompt.user)]

    def ask() -> Checked:
        answer = provider.ask(prompt.system, turns, answer_schema)
        usage["input_tokens"] += answer.input_tokens
        usage["output_tokens"] += answer.output_tokens
        if not (answer.text or "").strip():
            # Nothing to show the model (an empty part is refused): the repair says why.
            why = f" (finish reason {answer.finish_reason})" if answer.finish_reason else ""
            raise AnswerError(f"the answer is empty{why}")
        turns.append(("model", answer.text or ""))
        return check_answer(parse_json(answer.text), schema, many)

    first: Checked | None = None
    try:
        first = ask()
        if not first.problems:
            _note_ignored(first, notes)
            return first
        errors = "; ".join(first.problems)
    except AnswerError as exc:
        errors = str(exc)
    notes.append(f"{provider.label}'s answer needed a repair: {errors}")
    turns.append(("user", REPAIR.format(errors=errors)))
    try:
        second = ask()
    except llm.ModelUnavailable:
        raise
    except (AnswerError, llm.ProviderError) as exc:
        if first is None:
            raise AnswerError(f"{errors}; the repair failed too: {exc}") from exc
        notes.append(f"the repair failed ({exc}): kept the first answer's valid values")
        second = first
    if second.problems:
        notes.append("dropped after the repair: " + "; ".join(second.problems))
    else:
        notes.append("the repair fixed the answer")
    _note_ignored(second, notes)
    return second


def _note_ignored(checked: Checked, notes: list[str]) -> None:
    if checked.ignored:
        notes.append("ignored fields that are not properties: " + ", ".join(checked.ignored))


# Time kept after the last LLM request for the fallback, the artifact and the commit.
FINISH_SECONDS = 15.0


def deadline_for(settings: Settings, stage_deadline: float) -> float:
    """The time.monotonic() after which no LLM request starts: one started before it ends
    (SVP_LLM_TIMEOUT) in time for the stage to finish before `stage_deadline` (epoch
    seconds), so a slow provider gives the extractive fallback, not a killed function."""
    # The finish time shrinks with the limits (SVP_LIMITS_SCALE): unscaled, it would take the
    # whole of a scaled summarizer's time and the LLM would never be asked.
    finish = FINISH_SECONDS * limits.scale()
    left = stage_deadline - time.time() - settings.llm_timeout_seconds - finish
    return time.monotonic() + max(0.0, left)
