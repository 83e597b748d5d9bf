"""Model activities and the providers they ask (OpenAI-compatible chat completions, Anthropic)."""

from activities.model.activities import ModelActivities
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.provider import (
    ChatMessage,
    ModelProvider,
    ProviderAnswer,
    StructuredRequest,
    ToolAnswer,
    ToolProvider,
    ToolRequest,
)
from activities.model.structured import StructuredAnswer, ask_structured
from domain.names import ERR_MODEL_REQUEST_REJECTED, ERR_MODEL_UNAVAILABLE

__all__ = [
    "ERR_MODEL_REQUEST_REJECTED",
    "ERR_MODEL_UNAVAILABLE",
    "ChatMessage",
    "ModelActivities",
    "ModelProvider",
    "OpenAICompatibleProvider",
    "ProviderAnswer",
    "StructuredAnswer",
    "StructuredRequest",
    "ToolAnswer",
    "ToolProvider",
    "ToolRequest",
    "ask_structured",
]
