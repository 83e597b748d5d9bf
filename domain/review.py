"""The review verdict: deterministic gates first, then a model's rubric."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RubricScore(BaseModel):
    criterion: str = Field(description="e.g. correctness, tests, scope, readability")
    score: int = Field(ge=1, le=5)
    note: str = ""


class ReviewVerdict(BaseModel):
    verdict: Literal["approve", "request_changes"]
    summary: str = Field(min_length=1)
    rubric: list[RubricScore] = Field(default_factory=list)
    requested_changes: list[str] = Field(
        default_factory=list, description="Concrete changes; required when requesting changes"
    )


class GateResult(BaseModel):
    name: str
    passed: bool
    detail: str = ""
