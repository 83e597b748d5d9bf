"""The deployment's mode on the real dev server: one Update on the control workflow reaches
every running run (visibility listing + signal), runs hold at their boundaries and carry on
exactly there. Activities are faked by name (forge, model, workspace); Temporal is real."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.control import ControlActivities, current_mode, set_mode
from config.settings import load_config
from domain import names
from domain.issue import IssueRef, RepoRef
from domain.mode import ModeState, SetModeRequest
from domain.run import IssueResult, IssueStatus, IssueWorkflowInput, RunSettings
from starters.common import StarterError, start_issue_run
from tests.dev_server import running_dev_server
from tests.e2e.histories import save_history
from tests.polling import eventually
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import STAGES_TO_PULL_REQUEST
from workflows.control import ControlWorkflow
from workflows.issue import IssueWorkflow
from workflows.mode import HELD
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

PROJECT = Path(__file__).resolve().parents[2]
CONTROL_QUEUE = "control"
METADATA_QUERY = "__temporal_workflow_metadata"  # the SDK's built-in query
SHOWN = "Mode: **emergency-stop (set by oncall"  # in the progress comment
# Each run is caught inside one activity of a different stage when the stop comes.
CAUGHT_IN = {
    1: (names.GET_ISSUE, "intake"),
    2: (names.PREPARE_ENVIRONMENT, "setup"),
    3: (names.DRAFT_PLAN, "plan"),
    4: (names.RUN_TESTS, "verify"),
    5: (names.REVIEW_CHANGE, "review"),
    6: (names.RUN_TOOLS, "implement"),  # in one of its tasks (a child workflow): TASK_CALL
}
TASK_CALL = "/task/"


def activity_name(fake: Callable[..., Any]) -> str:
    return str(getattr(fake, "__temporal_activity_definition").name)


@dataclass
class Catch:
    """Holds the first call of one activity until released."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    caller: str = ""  # the workflow id of the run (or task) caught
    within: str = ""  # only calls of workflows whose id holds this

    def around(self, fake: Callable[..., Any]) -> Callable[..., Any]:
        name = activity_name(fake)

        @functools.wraps(fake, updated=())  # not its activity definition
        async def caught(input: Any) -> Any:
            caller = activity.info().workflow_id or ""
            if not self.arrived.is_set() and self.within in caller:
                self.caller = caller
                self.arrived.set()
                await self.release.wait()
            return await fake(input)

        return activity.defn(name=name)(caught)


@dataclass
class Run:
    number: int
    world: FakeWorld
    catch: Catch
    handle: WorkflowHandle[IssueWorkflow, IssueResult] | None = None

    async def comment(self, marker: str = "mode") -> str:
        return self.world.comments.get(marker, "")

    async def status(self) -> IssueStatus:
        assert self.handle is not None
        return await self.handle.query(IssueWorkflow.status)


async def current_details(client: Client, workflow_id: str) -> str:
    """What the Web UI shows as the workflow's current details."""
    metadata = await client.get_workflow_handle(workflow_id).query(
        METADATA_QUERY, result_type=WorkflowMetadata
    )
    return metadata.current_details


def issue_input(number: int, **settings: object) -> IssueWorkflowInput:
    repo = RepoRef(forge_url="http://forge.test", owner="o", name="r")
    return IssueWorkflowInput(
        issue=IssueRef(repo=repo, number=number),
        settings=RunSettings(**settings),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def deployment() -> AsyncIterator[Client]:
    async with (
        running_dev_server() as env,
        Worker(
            env.client,
            task_queue=CONTROL_QUEUE,
            workflows=[ControlWorkflow],
            activities=[ControlActivities(env.client).broadcast_mode],
            workflow_runner=WORKFLOW_RUNNER,
        ),
    ):
        yield env.client


async def start_run(
    stack: AsyncExitStack,
    client: Client,
    run: Run,
    caught: str | None,
    told: ModeState | None = None,
) -> None:
    activities = run.world.activities()
    if caught is not None:
        activities = [run.catch.around(a) if activity_name(a) == caught else a for a in activities]
    queue = f"issue-{run.number}"
    await stack.enter_async_context(
        Worker(
            client,
            task_queue=queue,
            workflows=[IssueWorkflow, TaskWorkflow],
            activities=activities,
            workflow_runner=WORKFLOW_RUNNER,
        )
    )
    run.handle = await client.start_workflow(
        IssueWorkflow.run,
        issue_input(run.number, auto_approve=True),
        id=f"run-{run.number}",
        task_queue=queue,
        start_signal=names.MODE_SIGNAL if told else None,
        start_signal_args=[told] if told else [],
    )


async def set_to(client: Client, mode: str) -> ModeState:
    request = SetModeRequest(mode=mode, by="oncall", reason="drill")  # type: ignore[arg-type]
    return await set_mode(client, CONTROL_QUEUE, request)


async def test_emergency_stop_holds_five_runs_in_five_stages_and_normal_resumes_them() -> None:
    runs = [Run(n, FakeWorld(), Catch(within=TASK_CALL if n == 6 else "")) for n in CAUGHT_IN]
    async with deployment() as client, AsyncExitStack() as stack:
        for run in runs:
            await start_run(stack, client, run, CAUGHT_IN[run.number][0])
        await asyncio.wait_for(asyncio.gather(*(r.catch.arrived.wait() for r in runs)), 30)

        stopped = await set_to(client, "emergency-stop")
        assert stopped.mode == "emergency-stop" and stopped.set_by == "oncall"
        assert (await current_mode(client)).mode == "emergency-stop"
        for run in runs:
            heard = await eventually(run.status, lambda s: s.mode is not None, what="the stop")
            assert heard.mode == stopped
            told = await eventually(run.comment, lambda c: c != "", what="the stop's comment")
            assert told.startswith("⏸️ **Emergency stop**: set by oncall (drill)")
            run.catch.release.set()

        # Each run finishes the call it was in and holds at its next boundary, in its stage.
        for run in runs:
            caught = functools.partial(current_details, client, run.catch.caller)
            details = await eventually(caught, lambda d: d.startswith(HELD), what="a hold")
            assert details.startswith(f"{HELD}: mode emergency-stop (set by oncall")
            status = await run.status()
            assert status.stage == CAUGHT_IN[run.number][1]
            if run.catch.caller == run.handle.id:  # type: ignore[union-attr]
                assert status.waiting_for == "mode emergency-stop"
            await eventually(functools.partial(run.comment, "progress"), lambda c: SHOWN in c)
        assert TASK_CALL in runs[-1].catch.caller  # held in a task
        writes = [len(r.world.comment_writes) for r in runs]
        # Queries go through a workflow task: a held run answering proves it has nothing to do.
        for run in runs:
            assert (await current_details(client, run.catch.caller)).startswith(HELD)
        assert [len(r.world.comment_writes) for r in runs] == writes

        await set_to(client, "normal")
        results = [await r.handle.result() for r in runs if r.handle is not None]
        # For tests/replay: a run stopped and resumed mid-plan, a task mid-loop, the control.
        await save_history(client, "run-3", "emergency_stopped")
        await save_history(client, runs[-1].catch.caller, "emergency_stopped")  # the task
        await save_history(client, names.CONTROL_WORKFLOW_ID, "modes_pushed", settle=True)

    for run, result in zip(runs, results, strict=True):
        assert result.outcome == "pr_opened", run.number
        world = run.world
        assert len(world.pulls) == 1
        # Nothing redone: the tasks' edits once each, every comment created once.
        assert [r.purpose for r in world.edit_requests] == ["task", "task"]
        assert len(world.comment_creations) == len(set(world.comment_creations))
        assert world.comments["mode"].startswith("▶️ Autopilot is back to **normal** mode")
        stages = [t.stage for t in result.status.timings]
        assert stages == STAGES_TO_PULL_REQUEST


async def test_minimal_skips_the_model_review_and_read_only_holds_without_writing() -> None:
    quick, held = Run(6, FakeWorld(), Catch()), Run(7, FakeWorld(), Catch())
    config = load_config(env={"AUTOPILOT_FORGE_TOKEN": "t"})
    repo = RepoRef(forge_url="http://forge.test", owner="o", name="r")
    async with deployment() as client, AsyncExitStack() as stack:
        minimal = await set_to(client, "minimal")
        # A run started in minimal mode hears it with its start, as the starters send it.
        await start_run(stack, client, quick, None, told=minimal)
        result = await quick.handle.result() if quick.handle else None
        assert result is not None and result.outcome == "pr_opened"
        assert quick.world.review_requests == []  # no model review
        assert result.status.review is not None
        assert result.status.review.summary.startswith("The model's review was skipped")
        assert quick.world.outcome_records == []  # learning is optional
        assert quick.world.comments["mode"].startswith("🟡 Autopilot is in **minimal** mode")

        await set_to(client, "normal")
        await start_run(stack, client, held, names.RUN_TESTS)
        await asyncio.wait_for(held.catch.arrived.wait(), 30)
        await set_to(client, "read-only")
        await eventually(held.status, lambda s: s.mode is not None and s.mode.mode == "read-only")
        writes = list(held.world.comment_writes)
        held.catch.release.set()
        status = await eventually(held.status, lambda s: s.waiting_for == "mode read-only")
        assert status.stage == "verify"  # the stage it was in finished; the next one waits
        assert held.world.comment_writes == writes  # nothing written to the forge
        assert "mode" not in held.world.comments
        with pytest.raises(StarterError, match="no new runs start while Autopilot is in mode"):
            await start_issue_run(client, config, IssueRef(repo=repo, number=8))

        await set_to(client, "normal")
        finished = await held.handle.result() if held.handle else None
    assert finished is not None and finished.outcome == "pr_opened"
    assert len(held.world.pulls) == 1


async def mode_command(client: Client, *argv: str) -> tuple[int, str, str]:
    """``python -m starters.mode`` in a process of its own, against ``client``'s server."""
    env = {
        **os.environ,
        "AUTOPILOT_FORGE_TOKEN": "t",
        "AUTOPILOT__TEMPORAL__ADDRESS": client.service_client.config.target_host,
        "AUTOPILOT__TEMPORAL__TASK_QUEUE": CONTROL_QUEUE,
        "PYTHONPATH": str(PROJECT),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starters.mode",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=PROJECT,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_mode_command_sets_and_shows_the_mode_and_refuses_unknown_ones() -> None:
    async with deployment() as client:
        code, out, _ = await mode_command(client)
        assert (code, out) == (0, "mode: normal\n")
        code, out, _ = await mode_command(
            client, "emergency-stop", "--as", "alice", "--reason", "drill", "--json"
        )
        assert code == 0
        assert json.loads(out) | {"set_at": None} == {
            "mode": "emergency-stop",
            "set_by": "alice",
            "set_at": None,
            "reason": "drill",
        }
        code, out, _ = await mode_command(client)
        assert code == 0 and out.startswith("mode: emergency-stop (set by alice at ")
        assert out.rstrip().endswith(": drill)")
        code, out, err = await mode_command(client, "stop-everything")
        assert code == 2 and out == ""
        assert "invalid choice: 'stop-everything'" in err
        assert (await current_mode(client)).mode == "emergency-stop"


async def test_a_run_started_around_the_starters_hears_the_mode_from_the_next_push() -> None:
    late = Run(9, FakeWorld(), Catch())
    async with deployment() as client, AsyncExitStack() as stack:
        await set_to(client, "emergency-stop")
        # Started by hand after the change: no start signal, so only a push can tell it. Its
        # first call is caught (if the push has not held it before that call already).
        await start_run(stack, client, late, names.GET_ISSUE)
        await eventually(late.status, lambda s: s.mode is not None, what="a push")
        late.catch.release.set()
        held = await eventually(late.status, lambda s: s.waiting_for == "mode emergency-stop")
        assert held.mode is not None and held.mode.mode == "emergency-stop"
        assert held.stage == "intake"
        await set_to(client, "normal")
        result = await late.handle.result() if late.handle else None
    assert result is not None and result.outcome == "pr_opened"
