"""The one small interface every model backend implements: structured chat completion."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

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
