"""The implementer's loop in a workflow: cut answers, nudges, finishing, bounded context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import names
from domain.agent import (
    ALL_TOOLS,
    AgentBrief,
    AgentLimits,
    AgentMessage,
    AgentState,
    AgentTurnInput,
    AgentTurnOutput,
    RunToolsInput,
    RunToolsOutput,
    StopReason,
    ToolCall,
    ToolResult,
)
from domain.change import CommitInfo
from domain.issue import RepoRef
from domain.usage import TokenUsage
from domain.workspace import WorkspaceRef
from tests.ledger.probe import ISSUE
from workflows.agent import CUT_OFF, ELIDED, NUDGE, AgentLoop, Loop
from workflows.calls import Activities
from workflows.model_gateway import ModelGateway
from workflows.runner import WORKFLOW_RUNNER

pytestmark = pytest.mark.timeout(60)
WORKSPACE = WorkspaceRef(
    repo=RepoRef(forge_url="http://forge.test", owner="o", name="r"),
    clone_url="http://forge.test/o/r.git",
    base_branch="main",
    branch="autopilot/issue-1",
    key="k",
)


class ProbeInput(BaseModel):
    limits: AgentLimits


@workflow.defn(name="AgentProbe")
class AgentProbe:
    @workflow.run
    async def run(self, input: ProbeInput) -> AgentState:
        loop = AgentLoop(
            Activities(lambda: "probe"),
            ModelGateway(None),
            lambda usage: None,
            Loop(
                brief=AgentBrief(purpose="fix", issue=ISSUE, feedback="tests fail"),
                workspace=WORKSPACE,
                environment=None,
                tools=ALL_TOOLS,
                task=None,
                stage="fix",
                change_prefix="probe",
                limits=input.limits,
            ),
        )
        return await loop.run()


def answer(stop: StopReason, *calls: ToolCall, text: str = "") -> AgentTurnOutput:
    message = AgentMessage(role="assistant", text=text, tool_calls=list(calls))
    return AgentTurnOutput(
        message=message, stop_reason=stop, usage=TokenUsage(output_tokens=10), model="m"
    )


def call(name: str, n: int, **arguments: object) -> ToolCall:
    return ToolCall(id=f"c{n}", name=name, arguments=dict(arguments))


@dataclass
class Script:
    answers: list[AgentTurnOutput]
    turns: list[AgentTurnInput] = field(default_factory=list)
    batches: list[RunToolsInput] = field(default_factory=list)

    @activity.defn(name=names.AGENT_TURN)
    async def agent_turn(self, input: AgentTurnInput) -> AgentTurnOutput:
        self.turns.append(input)
        return self.answers[len(self.turns) - 1]

    @activity.defn(name=names.RUN_TOOLS)
    async def run_tools(self, input: RunToolsInput) -> RunToolsOutput:
        self.batches.append(input)
        results = [ToolResult(call_id=c.id, name=c.name, output="x" * 1000) for c in input.calls]
        edits = [str(c.arguments["path"]) for c in input.calls if c.name == "str_replace"]
        commit = CommitInfo(sha=f"{len(self.batches):040d}", changed=True, files=edits)
        return RunToolsOutput(results=results, commit=commit if edits else None)


async def run_probe(env: WorkflowEnvironment, script: Script, limits: AgentLimits) -> AgentState:
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[AgentProbe],
        activities=[script.agent_turn, script.run_tools],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        return await env.client.execute_workflow(
            AgentProbe.run,
            ProbeInput(limits=limits),
            id=f"probe-{uuid.uuid4()}",
            task_queue=queue,
        )


async def test_a_cut_answer_is_dropped_with_a_hint_and_the_loop_finishes(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    edit = call("str_replace", 2, path="a.py", old_str="x", new_str="y")
    script = Script(
        [
            answer("length", text="Here is the whole file: import os ..."),
            answer("tool_use", edit),
            answer("tool_use", call("finish", 3, summary="fixed the off-by-one")),
        ]
    )
    state = await run_probe(time_skipping_env, script, AgentLimits())
    assert state.finished and state.summary == "fixed the off-by-one"
    assert state.turn == 3 and state.commits == [f"{1:040d}"] and state.files == ["a.py"]
    # The cut answer never reached the conversation; the hint did.
    second = script.turns[1].messages
    assert [m.role for m in second] == ["user"] and second[0].text == CUT_OFF
    assert [b.change_id for b in script.batches] == ["probe:2", "probe:3"]
    assert [s.summary for s in state.trajectory] == ["str_replace a.py", "finish"]


async def test_answers_without_tools_are_nudged_then_taken_as_the_end(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    script = Script([answer("end_turn", text=f"thinking {n}") for n in range(3)])
    state = await run_probe(time_skipping_env, script, AgentLimits(max_nudges=2))
    assert state.finished and state.summary == "thinking 2" and state.nudges == 2
    assert [m.text for m in script.turns[2].messages if m.role == "user"] == [NUDGE, NUDGE]
    assert script.batches == []


async def test_the_loop_stops_at_its_turn_limit_and_keeps_old_results_short(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    views = [answer("tool_use", call("view", n, path=f"f{n}.py")) for n in range(6)]
    limits = AgentLimits(max_turns=6, keep_results=2)
    state = await run_probe(time_skipping_env, Script(views), limits)
    assert not state.finished and state.turn == 6
    outputs = [m.results[0].output for m in state.messages if m.role == "tool"]
    assert [o.endswith(ELIDED) for o in outputs] == [True] * 4 + [False] * 2
    assert all(len(o) < 400 for o in outputs[:4]) and len(outputs[-1]) == 1000
