"""Tasks run in parallel: the TaskWorkflow's input and result, integration and conflicts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.agent import AgentLimits, AgentPurpose, AgentState, AgentSummary
from domain.budget import GatewayState, ModelGatewayStatus, ModelRunSettings
from domain.change import TestRun
from domain.issue import IssueInfo, IssueRef
from domain.plan import Plan, PlanTask
from domain.tiers import ProviderRole, Tier
from domain.usage import TokenUsage
from domain.workspace import EnvironmentRef, WorkspaceRef

CONFLICT_SCHEMA_NAME = "conflict_resolution"

TaskState = Literal["waiting", "running", "completed", "failed", "blocked", "skipped"]
# Only these may be skipped: the run asks a person about them, and skipping lets dependents go on.
SKIPPABLE_TASK_STATES: tuple[TaskState, ...] = ("failed", "blocked")


def task_branch(issue_branch: str, task_id: str) -> str:
    """``autopilot/issue-<n>-task-<id>``: git cannot hold both ``a`` and ``a/b`` as branches."""
    return f"{issue_branch}-task-{task_id}"


def task_workflow_id(issue_workflow_id: str, task_id: str) -> str:
    return f"{issue_workflow_id}/task/{task_id}"


class TaskWorkflowInput(BaseModel):
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    workspace: WorkspaceRef = Field(description="The task's own branch, based on the issue branch")
    attempt: int = Field(default=1, ge=1, description="1 + resumes of this task so far")
    guidance: str = Field(default="", description="From the person who resumed the run")
    test_command: str | None = Field(
        default=None, description="When set, the task runs the tests on its branch and fixes"
    )
    test_timeout_seconds: int = Field(default=600, gt=0)
    max_test_attempts: int = Field(default=0, ge=0, description="Test runs per task, at most")
    model: ModelRunSettings | None = Field(
        default=None, description="Tiers, and the task's allowance as its budget"
    )
    environment: EnvironmentRef | None = Field(
        default=None, description="Where the tests run (None: built by the test run)"
    )
    limits: AgentLimits = Field(default_factory=AgentLimits)
    candidate: int = Field(default=0, ge=0, description="Which of several tries this is (0: one)")
    repo_map: str = Field(default="", description="The repository's map, from planning")
    lessons: list[str] = Field(
        default_factory=list, description="Advisory lessons from earlier runs (data)"
    )
    carried: TaskCarried | None = Field(
        default=None, description="Set by continue-as-new: the loop resumes at its turn"
    )
    issue_ref: IssueRef | None = Field(
        default=None, description="Where the task says it is paused on its own budget"
    )


class TaskCarried(BaseModel):
    """A task's state when it continues as new in the middle of a loop."""

    purpose: AgentPurpose
    feedback: str = ""
    state: AgentState
    loops: list[AgentSummary] = Field(default_factory=list)
    commits: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    fixes: int = 0
    test_outputs: list[str] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    gateway: GatewayState | None = None
    calls: int = 0


class TaskResult(BaseModel):
    task_id: str
    branch: str
    head_sha: str
    commits: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    test_run: TestRun | None = None
    model: ModelGatewayStatus | None = None
    loops: list[AgentSummary] = Field(default_factory=list, description="The task, then fixes")


class TaskProgress(BaseModel):
    """One task as the ``status`` query shows it."""

    state: TaskState = "waiting"
    attempts: int = 0
    cause: str | None = Field(default=None, description="Why it failed or is blocked")
    head_sha: str | None = None


class SkipTaskRequest(BaseModel):
    task_id: str = Field(min_length=1)
    by: str = ""


class CancelRequest(BaseModel):
    by: str = ""
    reason: str = ""


class EnsureBranchInput(BaseModel):
    """Publish ``workspace.branch`` at the base tip if the forge does not have it yet."""

    workspace: WorkspaceRef


class IntegrateInput(BaseModel):
    """Merge ``task_branch`` into ``workspace.branch`` and push; idempotent.

    With ``resolution`` (whole files for the conflicted paths) a conflicting merge is completed
    with those contents, and only if ``test_command`` then passes is it committed and pushed.
    """

    workspace: WorkspaceRef
    task_id: str
    task_branch: str
    resolution: dict[str, str] | None = None
    test_command: str | None = None
    test_timeout_seconds: int = Field(default=600, gt=0)
    environment: EnvironmentRef | None = Field(
        default=None, description="The tests' environment; None: the detected default"
    )


IntegrateStatus = Literal[
    "merged", "already_merged", "nothing_to_merge", "conflict", "tests_failed"
]


class IntegrateResult(BaseModel):
    status: IntegrateStatus
    head_sha: str = ""
    conflicts: dict[str, str] = Field(
        default_factory=dict, description="Conflicted path -> content with conflict markers"
    )
    test_output: str = ""


class ResolvedFile(BaseModel):
    path: str = Field(min_length=1)
    content: str = Field(description="The whole resolved file, without conflict markers")


class ConflictResolution(BaseModel):
    """The model's answer (schema ``conflict_resolution``)."""

    summary: str = Field(min_length=1)
    files: list[ResolvedFile] = Field(min_length=1)


class ResolveConflictInput(BaseModel):
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    conflicts: dict[str, str]
    feedback: str = Field(default="", description="Why the previous resolution was refused")
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class ResolveConflictOutput(BaseModel):
    resolution: ConflictResolution
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


# ``TaskWorkflowInput`` names ``TaskCarried``, defined after it.
TaskWorkflowInput.model_rebuild()
