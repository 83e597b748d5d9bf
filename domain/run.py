"""The IssueWorkflow's input, its human gates, and the status it reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.budget import ModelGatewayStatus, ModelRunSettings
from domain.issue import IssueRef
from domain.review import ReviewVerdict
from domain.task import TaskProgress
from domain.usage import TokenUsage

Stage = Literal[
    "intake", "plan", "approval", "implement", "verify", "review", "pull_request", "done"
]
Outcome = Literal["running", "pr_opened", "expired", "failed", "cancelled"]


class RepoSettings(BaseModel):
    """Per-repository choices, from config/repositories.yaml."""

    test_command: str = "python -m pytest -q"
    test_timeout_seconds: int = Field(default=600, gt=0)
    protected_paths: list[str] = Field(
        default_factory=lambda: [".gitea/**", ".github/**"],
        description="Glob patterns no automated change may touch",
    )
    max_diff_lines: int = Field(default=1000, gt=0)


class RunSettings(BaseModel):
    """How a run behaves at its gates and loops, from config/autopilot.yaml."""

    auto_approve: bool = False
    approvers: list[str] = Field(
        default_factory=list, description="Who may approve plans; empty means anyone"
    )
    approval_reminder_seconds: int = Field(default=24 * 3600, gt=0)
    approval_expiry_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    max_plan_attempts: int = Field(default=3, ge=1, description="Plans drafted per run, at most")
    max_verify_attempts: int = Field(default=3, ge=1, description="Test runs before escalating")
    max_review_rounds: int = Field(default=2, ge=1)
    max_parallel_tasks: int = Field(default=3, ge=1, description="Task workflows at once")
    max_conflict_attempts: int = Field(
        default=2, ge=1, description="Model resolutions of one merge conflict before failing"
    )
    task_test_attempts: int = Field(
        default=0, ge=0, description="Test runs on each task's branch (0: only the issue's)"
    )


class IssueWorkflowInput(BaseModel):
    issue: IssueRef
    repo_settings: RepoSettings = Field(default_factory=RepoSettings)
    settings: RunSettings = Field(default_factory=RunSettings)
    model: ModelRunSettings | None = Field(
        default=None, description="Tiers and budgets; None sends every call to the one model"
    )


class ApprovalDecision(BaseModel):
    """A person's answer at the plan gate (Update ``approve`` or signal ``decide``)."""

    approver: str = Field(min_length=1)
    approved: bool
    feedback: str = Field(default="", description="Required when rejecting: what to change")


class ResumeRequest(BaseModel):
    """Sent by a person after ``needs-human``: try again, optionally with guidance."""

    by: str = ""
    guidance: str = ""


class StageTiming(BaseModel):
    stage: str
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class IssueStatus(BaseModel):
    """What the ``status`` query answers at any time."""

    stage: Stage = "intake"
    outcome: Outcome = "running"
    waiting_for: str | None = Field(default=None, description="e.g. 'approval', 'resume'")
    plan_version: int = 0
    attempts: dict[str, int] = Field(default_factory=dict)
    timings: list[StageTiming] = Field(default_factory=list)
    usage: dict[str, TokenUsage] = Field(default_factory=dict, description="Per stage")
    review: ReviewVerdict | None = None
    tasks: dict[str, TaskProgress] = Field(default_factory=dict, description="Per plan task")
    pr_url: str | None = None
    pr_number: int | None = None
    error: str | None = None
    model: ModelGatewayStatus | None = Field(
        default=None, description="Cost per stage and task, failovers, a budget pause"
    )

    @property
    def total_usage(self) -> TokenUsage:
        total = TokenUsage()
        for usage in self.usage.values():
            total = total + usage
        return total


class IssueResult(BaseModel):
    outcome: Outcome
    pr_url: str | None = None
    status: IssueStatus
