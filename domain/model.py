"""Inputs and outputs of the model activities (plan, edits, review)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.change import DiffSummary, EditSet, TestRun
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask
from domain.review import ReviewVerdict
from domain.usage import TokenUsage


class DraftPlanInput(BaseModel):
    issue: IssueInfo
    repo_files: list[str] = Field(default_factory=list, description="Paths in the repository")
    feedback: list[str] = Field(
        default_factory=list, description="Earlier rejections of a plan, oldest first"
    )


class DraftPlanOutput(BaseModel):
    plan: Plan
    usage: TokenUsage
    model: str


class DraftEditsInput(BaseModel):
    """Ask for edits that carry out a task, fix failing tests, or answer a review."""

    purpose: Literal["task", "fix", "review"]
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    files: dict[str, str] = Field(description="Current content of the files in scope")
    feedback: str = Field(default="", description="Test output, review comments or guidance")


class DraftEditsOutput(BaseModel):
    edits: EditSet
    usage: TokenUsage
    model: str


class ReviewChangeInput(BaseModel):
    issue: IssueInfo
    plan: Plan
    diff: DiffSummary
    test_run: TestRun


class ReviewChangeOutput(BaseModel):
    verdict: ReviewVerdict
    usage: TokenUsage
    model: str
