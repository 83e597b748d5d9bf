"""The IssueWorkflow's input, its human gates, and the status it reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args
from urllib.parse import quote

from pydantic import BaseModel, Field

from domain.agent import AgentLimits, AgentSummary
from domain.budget import GatewayState, ModelGatewayStatus, ModelRunSettings
from domain.change import TestRun
from domain.estimate import CostEstimate
from domain.issue import IssueInfo, IssueRef
from domain.learning import Experiment, LessonSettings
from domain.merge import MergePolicy
from domain.mode import ModeState
from domain.plan import Plan
from domain.review import ReviewPanel, ReviewSettings, ReviewVerdict
from domain.task import CancelRequest, TaskProgress
from domain.usage import TokenUsage
from domain.workspace import DEFAULT_SETUP_TIMEOUT_SECONDS, EnvironmentRef, WorkspaceRef

Stage = Literal[
    "intake",
    "setup",
    "plan",
    "approval",
    "implement",
    "verify",
    "review",
    "pull_request",
    "monitor",
    "done",
]
Outcome = Literal["running", "pr_opened", "merged", "pr_closed", "expired", "failed", "cancelled"]
LoopStage = Literal["verify", "review", "monitor"]
# Where a run can stop for a person besides the plan: after implement (with the diff), after
# verify, before the pull request is opened, and before Autopilot merges it
# (``workflows/stage_gates.py``).
GateStage = Literal["implement", "verify", "pull_request", "merge"]
GATE_STAGES: tuple[GateStage, ...] = get_args(GateStage)


class RepoSettings(BaseModel):
    """Per-repository choices, from config/repositories.yaml."""

    test_command: str = "python -m pytest -q"
    test_timeout_seconds: int = Field(default=600, gt=0)
    protected_paths: list[str] = Field(
        default_factory=lambda: [".gitea/**", ".github/**"],
        description="Glob patterns no automated change may touch",
    )
    max_diff_lines: int = Field(default=1000, gt=0)
    setup_command: list[str] | None = Field(
        default=None, description="Builds the environment; None: detected; []: none"
    )
    setup_timeout_seconds: int = Field(default=DEFAULT_SETUP_TIMEOUT_SECONDS, gt=0)
    merge: MergePolicy = Field(
        default_factory=MergePolicy, description="Whether and how Autopilot merges its PR"
    )
    gates: list[GateStage] | None = Field(
        default=None, description="Stages a person approves in this repository; None: run.gates"
    )


def run_link(runs_url: str, workflow_id: str, run_id: str | None = None) -> str:
    """The Web UI page of a run (``runs_url``: ``<ui>/namespaces/<namespace>/workflows``)."""
    link = f"{runs_url.rstrip('/')}/{quote(workflow_id, safe='')}"
    return f"{link}/{run_id}" if run_id else link


class RunSettings(BaseModel):
    """How a run behaves at its gates and loops, from config/autopilot.yaml."""

    auto_approve: bool = False
    runs_url: str = Field(
        default="", description="The Web UI's workflow list of the namespace, to link a run"
    )
    approvers: list[str] = Field(
        default_factory=list, description="Who may approve plans; empty means anyone"
    )
    verified_approvals: bool = Field(
        default=False, description="Only comment commands, verified on the forge, decide plans"
    )
    approval_reminder_seconds: int = Field(default=24 * 3600, gt=0)
    approval_expiry_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    max_plan_attempts: int = Field(default=3, ge=1, description="Plans drafted per run, at most")
    max_verify_attempts: int = Field(default=3, ge=1, description="Test runs before escalating")
    max_review_rounds: int = Field(default=2, ge=1)
    max_review_iterations: int = Field(
        default=0,
        ge=0,
        description="Answers to reviews on the open PR; 0: the run ends once its PR is open",
    )
    max_parallel_tasks: int = Field(default=3, ge=1, description="Task workflows at once")
    max_conflict_attempts: int = Field(
        default=2, ge=1, description="Model resolutions of one merge conflict before failing"
    )
    task_test_attempts: int = Field(
        default=0, ge=0, description="Test runs on each task's branch (0: only the issue's)"
    )
    implement: AgentLimits = Field(
        default_factory=AgentLimits, description="The implementer's loop: turns and tool limits"
    )
    max_loop_rounds_per_run: int = Field(
        default=20,
        ge=1,
        description="Verify and review rounds in one run before it continues as new",
    )
    review: ReviewSettings = Field(
        default_factory=ReviewSettings, description="The reviewer panel and its quorum (review.*)"
    )
    lessons: LessonSettings = Field(
        default_factory=LessonSettings, description="Lessons from earlier runs in prompts"
    )
    experiments: list[Experiment] = Field(
        default_factory=list, description="Variants compared by their runs' outcomes"
    )
    gates: list[GateStage] = Field(
        default_factory=list, description="Stages a person approves besides the plan"
    )


class IssueWorkflowInput(BaseModel):
    issue: IssueRef
    review_feedback: list[str] = Field(
        default_factory=list,
        description="What reviewers asked of an earlier PR (a cross-repo retry): planned for",
    )
    repo_settings: RepoSettings = Field(default_factory=RepoSettings)
    settings: RunSettings = Field(default_factory=RunSettings)
    model: ModelRunSettings | None = Field(
        default=None, description="Tiers and budgets; None sends every call to the one model"
    )
    carried: CarriedState | None = Field(
        default=None, description="Set by continue-as-new: resume at verify or review"
    )


# How a decision reached the run: the ``approve`` Update (the approve CLI), the ``decide``
# signal, or an ``/autopilot approve|reject`` comment (the webhook receiver).
ApprovalPath = Literal["update", "signal", "comment"]


class ApprovalDecision(BaseModel):
    """A person's answer at the plan gate (Update ``approve`` or signal ``decide``).

    ``approver`` is whatever the sender says (the CLI's ``--as``); only a comment command names
    a person the forge vouches for, and the run checks that comment on the forge itself."""

    approver: str = Field(min_length=1)
    approved: bool
    feedback: str = Field(default="", description="Required when rejecting: what to change")
    plan_version: int | None = Field(
        default=None, ge=1, description="The plan decided on; refused when another is waiting"
    )
    stage: GateStage | Literal["plan"] | None = Field(
        default=None, description="The gate decided on; refused when another one is waiting"
    )
    via: ApprovalPath | None = Field(
        default=None, description="Set by the run from its handler; 'comment' by the webhook"
    )
    comment_id: int | None = Field(
        default=None, description="The issue comment holding the command (via 'comment')"
    )


class DecisionRecord(BaseModel):
    """One decision at the plan gate, as the issue and the PR show it."""

    plan_version: int
    approver: str
    approved: bool
    via: ApprovalPath | Literal["auto-approve"]
    verified: bool = Field(description="The forge vouches for the approver (a comment command)")
    at: datetime
    feedback: str = ""


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
    review_panel: ReviewPanel | None = Field(
        default=None, description="The last review round's reviewers and quorum"
    )
    tasks: dict[str, TaskProgress] = Field(default_factory=dict, description="Per plan task")
    pr_url: str | None = None
    pr_number: int | None = None
    error: str | None = None
    note: str | None = Field(default=None, description="What the ending could not do, and why")
    environment: EnvironmentRef | None = Field(
        default=None, description="Where the tests run, from setup (None: built by each test run)"
    )
    loops: dict[str, AgentSummary] = Field(
        default_factory=dict, description="The implementer's loops: 'task <id>', 'fix 2', ..."
    )
    model: ModelGatewayStatus | None = Field(
        default=None, description="Cost per stage and task, failovers, a budget pause"
    )
    lessons: dict[str, list[str]] = Field(
        default_factory=dict, description="Lessons recalled for each prompt: plan, implement..."
    )
    variants: dict[str, str] = Field(default_factory=dict, description="experiment -> variant")
    decisions: list[DecisionRecord] = Field(
        default_factory=list, description="Who decided on which plan version, and how"
    )
    cost_estimate: CostEstimate | None = Field(
        default=None, description="The latest plan's estimate, shown beside the actual in the PR"
    )
    objections: list[str] = Field(default_factory=list, description="Reviewers' requests")
    test_failures: list[str] = Field(default_factory=list, description="Failing test lines")
    gate_feedback: list[str] = Field(
        default_factory=list, description="People's rejections at the stage gates"
    )
    mode: ModeState | None = Field(
        default=None, description="The deployment's mode as this run last heard it"
    )

    @property
    def total_usage(self) -> TokenUsage:
        total = TokenUsage()
        for usage in self.usage.values():
            total = total + usage
        return total


class LoopState(BaseModel):
    """Where the verify and review loops stand, so a continued run picks up mid-loop."""

    resume_at: LoopStage = "verify"
    verify_runs_since_human: int = 0
    verify_outputs: list[str] = Field(default_factory=list, description="Failing tails")
    guidance: str = Field(default="", description="From the last resume")
    review_rounds_since_human: int = 0
    pr_iterations: int = Field(default=0, description="Answers to PR feedback since a human")
    feedback_review: int = Field(default=0, description="The last PR review id handled")
    feedback_comment: int = Field(default=0, description="The last PR comment id handled")
    merge_approved: str = Field(default="", description="The head a person approved to merge")


class CarriedState(BaseModel):
    """A run's state after implement, handed to the next run by continue-as-new."""

    issue: IssueInfo
    plan: Plan
    workspace: WorkspaceRef
    status: IssueStatus
    loop: LoopState
    touched: list[str] = Field(default_factory=list)
    changes: int = Field(default=0, description="Commits so far: keeps change ids unique")
    escalations: int = 0
    calls: int = 0
    gateway: GatewayState | None = None
    test_run: TestRun | None = Field(default=None, description="Needed to resume at review")
    cancel: CancelRequest | None = None


class IssueResult(BaseModel):
    outcome: Outcome
    pr_url: str | None = None
    status: IssueStatus


# ``IssueWorkflowInput`` names ``CarriedState``, defined after it.
IssueWorkflowInput.model_rebuild()
