"""Helpers for the run_tools tests: tool calls, one turn, and what the forge holds after it."""

from __future__ import annotations

import itertools
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain.agent import ALL_TOOLS, RunToolsInput, RunToolsOutput, ToolCall, ToolName
from domain.workspace import WorkspaceRef
from tests.workspace.conftest import Origin, git

_ids = itertools.count(1)


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call-{next(_ids)}", name=name, arguments=arguments)


async def turn(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    *calls: ToolCall,
    change_id: str = "turn-1",
    allowed: tuple[ToolName, ...] = ALL_TOOLS,
    run_timeout_seconds: int = 60,
) -> RunToolsOutput:
    out = await env.run(
        acts.run_tools,
        RunToolsInput(
            workspace=ws,
            calls=list(calls),
            change_id=change_id,
            allowed=list(allowed),
            commit_message="Agent edits",
            run_timeout_seconds=run_timeout_seconds,
        ),
    )
    assert [r.call_id for r in out.results] == [c.id for c in calls]
    return out


async def one(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, c: ToolCall, **kw: Any
) -> tuple[str, bool]:
    """One call's (output, is_error)."""
    out = await turn(env, acts, ws, c, **kw)
    return out.results[0].output, out.results[0].is_error


def commits_on(origin: Origin, ws: WorkspaceRef) -> int:
    if not origin.has_branch(ws.branch):
        return 0
    return int(git(origin.bare, "rev-list", "--count", f"main..{ws.branch}").strip())
