"""The implementer: a bounded conversation in which the model uses tools on a branch.

Each turn is two activities: ``model.agent_turn`` (the model's next step, through the gateway:
tier, budgets, failover) and ``workspace.run_tools`` (its tool calls on the branch, committed and
pushed under a change id). The event history is the trajectory, so a worker that dies mid-loop
is replaced at the same turn with nothing redone; ``AgentState`` carries the loop across
continue-as-new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import names
from domain.agent import (
    AgentBrief,
    AgentLimits,
    AgentMessage,
    AgentState,
    AgentTurnInput,
    AgentTurnOutput,
    RunToolsInput,
    RunToolsOutput,
    ToolCall,
    ToolName,
    ToolResult,
    TrajectoryStep,
)
from domain.plan import PlanTask
from domain.usage import TokenUsage
from domain.workspace import DEFAULT_SETUP_TIMEOUT_SECONDS, EnvironmentRef, WorkspaceRef
from workflows import options
from workflows.calls import Activities
from workflows.model_gateway import ModelGateway

# Runs started before the implementer's loop keep asking for whole files (README, "Changing
# workflows that are already running").
AGENT_LOOP = "agent-loop"
CUT_OFF = (
    "Your answer stopped at the output limit and was dropped. Take a smaller step: one tool "
    "call at a time, and change files with str_replace or insert instead of rewriting them."
)
NUDGE = "Use the tools to make the change and check it, then call finish with a summary."
ELIDED = "[older output shortened]"
SHORT_RESULT_CHARS = 300


@dataclass(frozen=True)
class Loop:
    """What one loop works on and may use."""

    brief: AgentBrief
    workspace: WorkspaceRef
    environment: EnvironmentRef | None
    tools: tuple[ToolName, ...]
    task: PlanTask | None
    stage: str  # the gateway's stage: tier, budget and cost rows
    change_prefix: str  # with the turn number: the change id of that turn's commit
    limits: AgentLimits


class AgentLoop:
    def __init__(
        self,
        calls: Activities,
        gateway: ModelGateway,
        account: Callable[[TokenUsage], None],
        loop: Loop,
        state: AgentState | None = None,
    ) -> None:
        self._calls = calls
        self._gateway = gateway
        self._account = account
        self._loop = loop
        self.state = state or AgentState()

    def out_of_turns(self) -> bool:
        return self.state.turn >= self._loop.limits.max_turns

    async def run(self, turns: int | None = None) -> AgentState:
        """Take turns until the model finishes, the limits stop it, or ``turns`` were taken
        (the caller then continues as new and calls again)."""
        taken = 0
        while not (self.state.finished or self.out_of_turns()):
            if turns is not None and taken >= turns:
                break
            taken += 1
            await self._turn()
        return self.state

    async def _turn(self) -> None:
        await self._calls.mode.before_turn()  # emergency-stop holds between turns
        state, loop = self.state, self._loop
        state.turn += 1
        answer = await self._gateway.call(
            names.AGENT_TURN,
            AgentTurnInput(
                brief=loop.brief,
                messages=state.messages,
                tools=list(loop.tools),
                max_output_tokens=self._gateway.max_output_tokens(loop.stage, loop.task),
            ),
            AgentTurnOutput,
            stage=loop.stage,
            task=loop.task,
        )
        self._account(answer.usage)
        tokens = answer.usage.output_tokens
        state.largest_answer_tokens = max(state.largest_answer_tokens, tokens)
        calls = answer.message.tool_calls
        if not calls:
            self._without_tools(answer)
            return
        state.messages.append(answer.message)
        ran = await self._run_tools(calls)
        self._record(calls, ran)

    def _without_tools(self, answer: AgentTurnOutput) -> None:
        """A cut answer is dropped with a hint; plain text is nudged, then taken as the end."""
        state = self.state
        if answer.stop_reason == "length":
            state.messages.append(AgentMessage(role="user", text=CUT_OFF))
            return
        state.messages.append(answer.message)
        if state.nudges >= self._loop.limits.max_nudges:
            state.finished, state.summary = True, answer.message.text.strip()
            return
        state.nudges += 1
        state.messages.append(AgentMessage(role="user", text=NUDGE))

    async def _run_tools(self, calls: list[ToolCall]) -> RunToolsOutput:
        loop = self._loop
        env = loop.environment
        setup = env.timeout_seconds if env is not None else DEFAULT_SETUP_TIMEOUT_SECONDS
        return await self._calls.run(
            names.RUN_TOOLS,
            RunToolsInput(
                workspace=loop.workspace,
                environment=env,
                calls=calls,
                change_id=f"{loop.change_prefix}:{self.state.turn}",
                allowed=list(loop.tools),
                commit_message=_commit_message(loop.brief),
                run_timeout_seconds=loop.limits.run_timeout_seconds,
            ),
            RunToolsOutput,
            call=options.TOOLS.with_budget(loop.limits.run_timeout_seconds, setup),
            summary="; ".join(step_summary(c) for c in calls)[:200],
        )

    def _record(self, calls: list[ToolCall], ran: RunToolsOutput) -> None:
        state = self.state
        _shorten_old_results(state.messages, self._loop.limits.keep_results)
        state.messages.append(AgentMessage(role="tool", results=ran.results))
        by_id = {r.call_id: r for r in ran.results}
        for call in calls:
            result = by_id.get(call.id)
            ok = result is not None and not result.is_error
            state.trajectory.append(
                TrajectoryStep(turn=state.turn, tool=call.name, summary=step_summary(call), ok=ok)
            )
            if call.name == "finish" and ok:
                state.finished = True
                state.summary = str(call.arguments.get("summary", "")).strip()
        commit = ran.commit
        if commit is not None and commit.changed:
            state.commits.append(commit.sha)
            state.files.extend(p for p in commit.files if p not in state.files)


def step_summary(call: ToolCall) -> str:
    """A tool call in one line, for the Web UI, the status query and the PR."""
    args = call.arguments
    target = args.get("path") or args.get("pattern") or args.get("command") or ""
    if call.name == "finish":
        target = ""
    return f"{call.name} {str(target)[:120]}".strip()


def _shorten_old_results(messages: list[AgentMessage], keep: int) -> None:
    """Keep the latest ``keep`` tool messages whole: the model needs what it just saw, and the
    conversation (sent every turn, kept in the history) stays bounded."""
    tool_messages = [m for m in messages if m.role == "tool"]
    for message in tool_messages[: max(0, len(tool_messages) - keep + 1)]:
        message.results = [_shortened(r) for r in message.results]


def _shortened(result: ToolResult) -> ToolResult:
    if len(result.output) <= SHORT_RESULT_CHARS or result.output.endswith(ELIDED):
        return result
    head = result.output[:SHORT_RESULT_CHARS].rstrip()
    return result.model_copy(update={"output": f"{head}\n{ELIDED}"})


def _commit_message(brief: AgentBrief) -> str:
    if brief.task is not None and brief.purpose == "task":
        return f"{brief.task.title} (#{brief.issue.number})"
    return f"Autopilot {brief.purpose} for #{brief.issue.number}"
