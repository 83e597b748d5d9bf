"""Ask for a JSON answer, validate it, and re-ask a bounded number of times when it is invalid."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from activities.model.provider import ChatMessage, ModelProvider, ProviderAnswer, StructuredRequest
from domain import names
from domain.budget import USAGE_DETAIL
from domain.usage import TokenUsage

T = TypeVar("T", bound=BaseModel)

# Extra checks beyond the schema: they return problems, empty when the answer is fine.
AnswerCheck = Callable[[T], list[str]]
# Called with (model, usage) as each paid reply arrives; returns the usage to sum (the activity
# prices it and counts it in the metrics there, so a call that fails later is counted too).
ReplyHook = Callable[[str, TokenUsage], TokenUsage]

REASK_PHRASE = "Your previous answer was invalid"
_FENCED = re.compile(r"```[A-Za-z]*[ \t]*\n(.*?)\n?```", re.DOTALL)
_MAX_ERRORS = 5
_MAX_PROBLEM_CHARS = 1000
_MAX_ECHO_CHARS = 20_000  # a huge bad answer is echoed back clipped, to bound re-ask cost
# A cut-off answer is not echoed at all (it was as long as an answer can be): this stands in.
CUT_OFF_STAND_IN = "(an answer cut off at the output token limit; not repeated here)"
# How each answer can be shorter when the last one did not fit the output limit.
_SHORTER = {
    "plan": "fewer tasks, each with a one-sentence description and short acceptance criteria",
    "edit_set": (
        "edit only the files that must change, no unrelated rewrites, and a one-line summary "
        "and commit message"
    ),
    "review_verdict": "a short summary and only the most important requested changes",
    "conflict_resolution": "a one-line summary and only the conflicted files",
}


@dataclass(frozen=True)
class StructuredAnswer(Generic[T]):
    answer: T
    usage: TokenUsage  # summed over every attempt, including the invalid ones
    model: str
    attempts: int


async def ask_structured(
    provider: ModelProvider,
    request: StructuredRequest,
    answer_type: type[T],
    max_reasks: int,
    *,
    stage: str | None = None,
    check: AnswerCheck[T] | None = None,
    on_reply: ReplyHook | None = None,
) -> StructuredAnswer[T]:
    """The first valid answer in at most ``1 + max_reasks`` calls, or ERR_INVALID_MODEL_OUTPUT.

    Every failure after a paid reply carries what the replies so far used, as the details the
    gateway reads (``domain.budget.failed_call_usage``): an answer that stayed invalid, and a
    provider error during a re-ask."""
    stage = stage or request.schema_name
    messages = list(request.messages)
    usage = TokenUsage()
    model = ""
    problem = ""
    attempts = 0
    while attempts <= max_reasks:
        attempts += 1
        try:
            reply = await provider.complete(request.model_copy(update={"messages": messages}))
        except ApplicationError as err:
            if not usage.calls:
                raise
            raise with_usage(err, usage) from err
        paid = TokenUsage(
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            calls=1,
            cost_usd=reply.usage.cost_usd,
            cached_calls=1 if reply.cached else 0,
        )
        usage = usage + (on_reply(reply.model, paid) if on_reply else paid)
        model = reply.model
        answer, problem = parse_answer(reply, answer_type, check)
        if answer is not None:
            return StructuredAnswer(answer=answer, usage=usage, model=model, attempts=attempts)
        messages = [*messages, *_reask(request, reply, problem)]
    raise ApplicationError(
        f"{stage}: the model's answer was still invalid after {attempts} attempts: {problem}",
        {"stage": stage, "attempts": attempts, "model": model, USAGE_DETAIL: usage.model_dump()},
        type=names.ERR_INVALID_MODEL_OUTPUT,
        non_retryable=True,
    )


def with_usage(err: ApplicationError, usage: TokenUsage) -> ApplicationError:
    """The same failure (message, type, retry behaviour), its details carrying ``usage``."""
    return ApplicationError(
        err.message,
        {USAGE_DETAIL: usage.model_dump()},
        type=err.type,
        non_retryable=err.non_retryable,
        next_retry_delay=err.next_retry_delay,
    )


def parse_answer(
    reply: ProviderAnswer, answer_type: type[T], check: AnswerCheck[T] | None = None
) -> tuple[T | None, str]:
    """The validated answer and "", or None and a short description of what is wrong."""
    if reply.truncated:
        return None, "it was cut off at the output token limit; give a shorter answer"
    if reply.refused:
        said = " ".join(reply.content.split())[:200]
        return None, "the model declined to answer" + (f" ({said})" if said else "")
    if not reply.content.strip():
        return None, "it was empty"
    try:
        data = load_json(reply.content)
    except ValueError as err:
        return None, f"it is not valid JSON ({err})"
    try:
        answer = answer_type.model_validate(data)
    except ValidationError as err:
        return None, describe_errors(err)
    problems = check(answer) if check else []
    if problems:
        return None, _clip("; ".join(problems))
    return answer, ""


def load_json(text: str) -> Any:
    """Parse JSON, tolerating a Markdown-fenced block around it (with or without prose)."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as err:
        fenced = _FENCED.search(stripped)
        if fenced is None:
            raise ValueError(f"{err.msg} at line {err.lineno} column {err.colno}") from None
    try:
        return json.loads(fenced.group(1))
    except json.JSONDecodeError as err:
        raise ValueError(f"{err.msg} at line {err.lineno} column {err.colno}") from None


def describe_errors(err: ValidationError) -> str:
    errors = err.errors(include_url=False, include_input=False)
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
        for e in errors[:_MAX_ERRORS]
    ]
    if len(errors) > _MAX_ERRORS:
        parts.append(f"and {len(errors) - _MAX_ERRORS} more errors")
    return _clip("; ".join(parts))


def _reask(request: StructuredRequest, reply: ProviderAnswer, problem: str) -> list[ChatMessage]:
    """The two messages of a re-ask; a cut-off answer is asked again shorter, not echoed."""
    if reply.truncated:
        return [
            ChatMessage(role="assistant", content=CUT_OFF_STAND_IN),
            ChatMessage(
                role="user",
                content=shorter_text(request.schema_name, request.max_output_tokens),
            ),
        ]
    return [
        ChatMessage(role="assistant", content=reply.content[:_MAX_ECHO_CHARS] or "(empty)"),
        ChatMessage(role="user", content=reask_text(request.schema_name, problem)),
    ]


def shorter_text(schema_name: str, limit: int) -> str:
    how = _SHORTER.get(schema_name, "shorter texts and fewer items")
    return (
        f"{REASK_PHRASE}: it was cut off at the output token limit ({limit} tokens) before it "
        "was complete, so it is not repeated here.\n"
        f"Answer again with only one JSON object that matches the {schema_name!r} schema, and "
        f"make it fit well within the limit: {how}."
    )


def reask_text(schema_name: str, problem: str) -> str:
    return (
        f"{REASK_PHRASE}: {problem}\n"
        f"Answer again with only one JSON object that matches the {schema_name!r} schema."
    )


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_PROBLEM_CHARS else text[: _MAX_PROBLEM_CHARS - 3] + "..."
