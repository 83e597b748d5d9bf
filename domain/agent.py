"""The implementer's conversation: model turns, tool calls and their results.

A task (and a fix, and an answer to a review) is carried out by a bounded loop in workflow
code: ``model.agent_turn`` asks the model for its next step, ``workspace.run_tools`` carries out
the tool calls it made on the task's branch. Both are activities, so a worker that dies mid
trajectory is replaced at the same turn with nothing redone.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.change import CommitInfo
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask
from domain.tiers import ProviderRole, Tier
from domain.usage import TokenUsage
from domain.workspace import EnvironmentRef, WorkspaceRef

ToolName = Literal["view", "create", "str_replace", "insert", "search", "run", "finish"]
# The planner looks but does not touch.
READ_ONLY_TOOLS: tuple[ToolName, ...] = ("view", "search", "finish")
ALL_TOOLS: tuple[ToolName, ...] = (
    "view",
    "create",
    "str_replace",
    "insert",
    "search",
    "run",
    "finish",
)
AgentPurpose = Literal["plan", "task", "fix", "review"]
# The run stage a call for each purpose belongs to, for logs: fixes are made while verifying,
# answers to a review in the implement stage the review sends the run back to.
PURPOSE_STAGES: dict[AgentPurpose, str] = {
    "plan": "plan",
    "task": "implement",
    "fix": "verify",
    "review": "implement",
}
StopReason = Literal["end_turn", "tool_use", "length", "refusal"]


class ToolCall(BaseModel):
    """One call the model made; ``arguments`` as the model sent them (validated by the tool)."""

    id: str = Field(min_length=1, description="The provider's id, echoed in the result")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    call_id: str
    name: str
    output: str = Field(description="What the model sees; capped by the tool")
    is_error: bool = False


class AgentMessage(BaseModel):
    """One message after the brief: the model's (text and tool calls) or the tools' results."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    results: list[ToolResult] = Field(default_factory=list)


class AgentBrief(BaseModel):
    """What the first message tells the model; the activity renders it into the prompt."""

    purpose: AgentPurpose
    issue: IssueInfo
    plan: Plan | None = Field(default=None, description="None while planning")
    task: PlanTask | None = None
    feedback: str = Field(default="", description="Test output, review comments or guidance")
    repo_map: str = Field(default="", description="File tree and outline of definitions")
    test_command: str = Field(default="", description="What the run tool can use to test")
    lessons: list[str] = Field(
        default_factory=list, description="Advisory lessons from earlier runs (data)"
    )


class AgentTurnInput(BaseModel):
    brief: AgentBrief
    messages: list[AgentMessage] = Field(default_factory=list, description="After the brief")
    tools: list[ToolName]
    max_output_tokens: int = Field(default=4096, gt=0)
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class AgentTurnOutput(BaseModel):
    message: AgentMessage = Field(description="The assistant's message")
    stop_reason: StopReason
    usage: TokenUsage
    model: str
    provider: str = ""
    tier: Tier | None = None
    cached: bool = False


class RunToolsInput(BaseModel):
    """Carry out one turn's tool calls on ``workspace.branch``, in order.

    Edits are committed and pushed as one commit with ``change_id`` in its trailer, so a retried
    call finds its own commit instead of applying the edits twice. ``finish`` is answered here too
    (it changes nothing); the loop ends after the batch that holds it.
    """

    workspace: WorkspaceRef
    environment: EnvironmentRef | None = None
    calls: list[ToolCall] = Field(min_length=1)
    change_id: str = Field(min_length=1)
    allowed: list[ToolName] = Field(description="Tools this loop may use; others are refused")
    commit_message: str = "Autopilot: edits"
    run_timeout_seconds: int = Field(default=300, gt=0)


class RunToolsOutput(BaseModel):
    results: list[ToolResult]
    commit: CommitInfo | None = Field(default=None, description="When the edits changed files")


class RepoMapInput(BaseModel):
    workspace: WorkspaceRef
    max_tokens: int = Field(default=6000, gt=0, description="Trim the map to about this size")


class FileSizesInput(BaseModel):
    workspace: WorkspaceRef
    paths: list[str] = Field(max_length=200)


class FileSizes(BaseModel):
    """Bytes per path; a path that is not a file (yet) is left out."""

    sizes: dict[str, int] = Field(default_factory=dict)


class RepoMap(BaseModel):
    text: str
    files: int
    truncated: bool = False


class TrajectoryStep(BaseModel):
    """One tool call as the status query, the Web UI and the PR summarise it."""

    turn: int
    tool: str
    summary: str = Field(description="The call in a line, e.g. 'str_replace src/a.py'")
    ok: bool = True


class AgentLimits(BaseModel):
    """How far one loop may go (``run.implement`` in autopilot.yaml)."""

    model_config = ConfigDict(extra="forbid")

    max_turns: int = Field(default=30, ge=1, description="Model turns per loop")
    max_nudges: int = Field(
        default=2, ge=0, description="Answers without tool calls before the loop gives up"
    )
    turns_per_run: int = Field(
        default=15, ge=1, description="Turns in one workflow run before it continues as new"
    )
    keep_results: int = Field(
        default=6, ge=1, description="Latest tool results kept whole; older ones are shortened"
    )
    run_timeout_seconds: int = Field(default=300, gt=0, description="Cap of one run tool call")
    plan_turns: int = Field(
        default=6, ge=0, description="Read-only turns the planner may take (0: none)"
    )
    candidates: int = Field(
        default=1, ge=1, le=5, description="Loops tried at once per task; the tests pick one"
    )


class AgentState(BaseModel):
    """Where a loop stands; carried across continue-as-new so it resumes at the same turn."""

    messages: list[AgentMessage] = Field(default_factory=list)
    turn: int = 0
    nudges: int = 0
    finished: bool = False
    summary: str = ""
    commits: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    trajectory: list[TrajectoryStep] = Field(default_factory=list)
    largest_answer_tokens: int = 0


MAX_STEPS_SHOWN = 60


class AgentSummary(BaseModel):
    """One loop as the status query and the pull request show it."""

    purpose: AgentPurpose
    turns: int
    finished: bool
    summary: str
    steps: list[TrajectoryStep] = Field(description=f"The first {MAX_STEPS_SHOWN} tool calls")
    tool_calls: int
    largest_answer_tokens: int = 0

    @classmethod
    def of(cls, purpose: AgentPurpose, state: AgentState) -> AgentSummary:
        return cls(
            purpose=purpose,
            turns=state.turn,
            finished=state.finished,
            summary=state.summary,
            steps=state.trajectory[:MAX_STEPS_SHOWN],
            tool_calls=len(state.trajectory),
            largest_answer_tokens=state.largest_answer_tokens,
        )
