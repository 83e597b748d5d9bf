"""One turn of the implementer's conversation: the request, the provider call, the answer.

The activity (``ModelActivities.agent_turn``) routes, caches, prices and counts; this module
turns an ``AgentTurnInput`` into a provider request and the provider's answer into the turn.
"""

from __future__ import annotations

from pydantic import BaseModel

from activities.model.agent_prompts import brief_message, system_prompt, truncation_note
from activities.model.breaker import no_tool_calls
from activities.model.provider import ModelProvider, ToolAnswer, ToolProvider, ToolRequest
from domain.agent import AgentMessage, AgentTurnInput, StopReason
from domain.model import tool_specs

# The cache's answer type for agent turns (part of the key, apart from structured answers).
TURN_ANSWER_TYPE = "AgentTurn"
# Asked when the loop sends a conversation that ends with the model's own text: both APIs would
# read that as an answer to continue, and some models refuse it.
CONTINUE_TEXT = "Continue: call the next tool, or call finish when the work is done."


class CachedTurn(BaseModel):
    """What the answer cache keeps of a turn: the message and why it ended."""

    message: AgentMessage
    stop_reason: StopReason


def agent_request(input: AgentTurnInput, tier_limit: int) -> ToolRequest:
    """The brief as the first user message, the loop's messages after it, the tools offered.

    The output limit is the loop's, capped by the tier's.
    """
    messages = [brief_message(input.brief), *input.messages]
    last = messages[-1]
    if last.role == "assistant" and not last.tool_calls:
        messages.append(AgentMessage(role="user", text=CONTINUE_TEXT))
    return ToolRequest(
        system=system_prompt(input.tools),
        messages=messages,
        tools=tool_specs(input.tools),
        max_output_tokens=min(input.max_output_tokens, tier_limit),
    )


async def converse(provider: ModelProvider, name: str, request: ToolRequest) -> ToolAnswer:
    if not isinstance(provider, ToolProvider):
        raise no_tool_calls(name)
    return await provider.converse(request)


def turn_of(answer: ToolAnswer, limit: int) -> CachedTurn:
    """The assistant's message; a cut-off turn says so in its text (and what it dropped)."""
    text = answer.text
    if answer.stop_reason == "length":
        note = truncation_note(limit, answer.dropped_call)
        text = f"{text.rstrip()}\n\n{note}" if text.strip() else note
    message = AgentMessage(role="assistant", text=text, tool_calls=answer.tool_calls)
    return CachedTurn(message=message, stop_reason=answer.stop_reason)
