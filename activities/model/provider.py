"""The small interfaces every model backend implements: structured answers and tool calls."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from domain.agent import AgentMessage, StopReason, ToolCall
from domain.model import ToolSpec
from domain.usage import TokenUsage

# Error types of provider failures (ApplicationError.type). Rejections are permanent:
# retrying a request the provider refused (bad key, no quota, bad request) cannot succeed.


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class StructuredRequest(BaseModel):
    """A chat asking for one JSON answer that matches ``json_schema``."""

    messages: list[ChatMessage] = Field(min_length=1)
    schema_name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    json_schema: dict[str, Any]
    max_output_tokens: int = Field(default=4096, gt=0)


# Normalised finish reasons every provider maps its own onto.
FINISH_LENGTH = "length"
FINISH_REFUSAL = "refusal"


class ProviderAnswer(BaseModel):
    """The raw text of one completion; ``finish_reason == "length"`` means it was cut off."""

    content: str
    usage: TokenUsage
    model: str
    finish_reason: str | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")

    @property
    def truncated(self) -> bool:
        return self.finish_reason == FINISH_LENGTH

    @property
    def refused(self) -> bool:
        return self.finish_reason == FINISH_REFUSAL


class ModelProvider(Protocol):
    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        """One completion; raises ApplicationError (retryable or not) when there is none."""
        ...


class ToolRequest(BaseModel):
    """A conversation in which the model may call ``tools``.

    ``messages`` alternate as the loop made them: user text, the assistant's text and tool
    calls, the tools' results (role ``tool``, optionally with text the loop adds after them).
    """

    system: str
    messages: list[AgentMessage] = Field(min_length=1)
    tools: list[ToolSpec] = Field(default_factory=list)
    max_output_tokens: int = Field(default=4096, gt=0)


class ToolAnswer(BaseModel):
    """One assistant turn, with the provider's stop reason normalised.

    ``dropped_call`` names a tool call that was cut off at the output limit and left out.
    """

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    stop_reason: StopReason
    usage: TokenUsage
    model: str
    dropped_call: str | None = None


@runtime_checkable
class ToolProvider(Protocol):
    async def converse(self, request: ToolRequest) -> ToolAnswer:
        """One assistant turn; raises ApplicationError (retryable or not) when there is none."""
        ...
