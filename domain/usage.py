"""Token usage and cost of model calls, summed per call, task, stage, issue and repository."""

from __future__ import annotations

from pydantic import BaseModel


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0  # answers served from the cache: counted as calls, never paid

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            calls=self.calls + other.calls,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            cached_calls=self.cached_calls + other.cached_calls,
        )

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens
