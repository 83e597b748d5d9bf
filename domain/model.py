"""Inputs and outputs of the model activities (plan, edits, review)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.change import DiffSummary, EditSet, TestRun
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask
from domain.review import ReviewVerdict
from domain.tiers import ProviderRole, Tier
from domain.usage import TokenUsage


class DraftPlanInput(BaseModel):
    issue: IssueInfo
    repo_files: list[str] = Field(default_factory=list, description="Paths in the repository")
    feedback: list[str] = Field(
        default_factory=list, description="Earlier rejections of a plan, oldest first"
    )
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class DraftPlanOutput(BaseModel):
    plan: Plan
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


EditPurpose = Literal["task", "fix", "review"]


class DraftEditsInput(BaseModel):
    """Ask for edits that carry out a task, fix failing tests, or answer a review."""

    purpose: EditPurpose
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    files: dict[str, str] = Field(description="Current content of the files in scope")
    feedback: str = Field(default="", description="Test output, review comments or guidance")
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class DraftEditsOutput(BaseModel):
    edits: EditSet
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


class ReviewChangeInput(BaseModel):
    issue: IssueInfo
    plan: Plan
    diff: DiffSummary
    test_run: TestRun
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class ReviewChangeOutput(BaseModel):
    verdict: ReviewVerdict
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")
