"""Parallel plan tasks on the real stack: a merge conflict the model resolves, and a worker
process killed in the middle of a task's loop (inside one of its turns)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from config.settings import load_config
from devstack.model_server.testing import running_model_server
from domain import names
from domain.run import IssueResult
from domain.task import task_branch, task_workflow_id
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import Stack
from tests.e2e.histories import save_history
from tests.e2e.test_issue_to_pull_request import git, pytest_passes
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).resolve().parent / "data" / "parallel_scenario.yaml"
TASKS = ("add-mul", "add-sub", "docs", "tests")
# Model turns per task, as the trajectories of parallel_scenario.yaml play them: view, edit,
# finish; the tests task also runs the tests before it finishes.
TURNS = {"add-mul": 3, "add-sub": 3, "docs": 3, "tests": 4}
OPS = '"""Arithmetic helpers."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n'
ISSUE = "The calculator only adds."
# These words in the issue pick the add-mul trajectory whose editing turn (turn 2) also runs
# `sleep 5; python -m pytest -q`: time to kill the worker inside that turn.
SLOW_ISSUE = "The calculator only adds. Check each change with a slow test run."
SLOW_TASK, SLOW_TURN = "add-mul", 2


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """Overrides the demo model of tests/e2e/conftest.py for this module."""
    with running_model_server(SCENARIO) as url:
        yield url


def write_repo(root: Path) -> Path:
    files = {
        "README.md": "# calc\n",
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        "calc/__init__.py": "",
        "calc/ops.py": OPS,
        "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n"
        "    assert add(2, 3) == 5\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


async def start_run(stack: Stack, tmp_path: Path, env: dict[str, str], body: str) -> str:
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, write_repo(tmp_path / "seed"))
    issue_md = tmp_path / "issue.md"
    issue_md.write_text(f"# Add sub and mul\n\n{body}\n")
    issue = await stack.seeder.open_issue(owner, name, issue_md)
    config = load_config(env={**env, "AUTOPILOT__RUN__AUTO_APPROVE": "true"})
    ref = issue_ref(config, stack.repo, issue["number"])
    await start_issue_run(stack.client, config, ref)
    return ref.workflow_id


def branch_log(stack: Stack, tmp_path: Path, branch: str) -> tuple[Path, str]:
    owner, name = stack.repo.split("/")
    checkout = tmp_path / "checkout"
    git("clone", "-q", stack.forge.clone_url(owner, name), str(checkout), cwd=tmp_path)
    git("checkout", "-q", branch, cwd=checkout)
    return checkout, git("log", "--format=%B", "main..HEAD", cwd=checkout)


def change_ids(log: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("Autopilot-Change:")
    ]


async def test_parallel_tasks_with_a_conflict_resolved_by_the_model(
    stack: Stack, tmp_path: Path
) -> None:
    workflow_id = await start_run(stack, tmp_path, stack.env, ISSUE)
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    result = await asyncio.wait_for(handle.result(), 90)
    assert result.outcome == "pr_opened", result.status.error
    assert {t: p.state for t, p in result.status.tasks.items()} == dict.fromkeys(TASKS, "completed")
    assert result.status.attempts.get("conflict") == 1  # add-mul and add-sub collided once
    assert {t: result.status.loops[f"task {t}"].turns for t in TASKS} == TURNS

    number = int(workflow_id.rsplit(":", 1)[1])
    checkout, log = branch_log(stack, tmp_path, f"autopilot/issue-{number}")
    assert pytest_passes(checkout)
    ops = (checkout / "calc" / "ops.py").read_text()
    assert "def mul" in ops and "def sub" in ops and "<<<<<<<" not in ops
    ids = change_ids(log)
    assert len(ids) == len(TASKS) == len(set(ids))
    assert "Autopilot-Integrate:" in log  # the resolved merge commit
    # The parent holds the conflict resolution; a child is one task carried to its branch.
    await save_history(stack.client, workflow_id, "parallel_tasks_with_conflict")
    await save_history(stack.client, task_workflow_id(workflow_id, "add-sub"), "done")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers"], cwd=PROJECT, env=env, stdout=out, stderr=out
        )


@dataclass
class Scheduled:
    """One activity as a task's history holds it: scheduled once, retried under the same event."""

    activity_id: str
    activity_type: str
    input: dict[str, Any]
    attempt: int = 0  # of its last attempt; 0 while it has not ended

    @property
    def turn(self) -> int:
        """The loop's turn this call belongs to: 1 + the assistant messages it carries."""
        if self.activity_type == names.AGENT_TURN:
            return 1 + sum(m["role"] == "assistant" for m in self.input["messages"])
        return int(self.input["change_id"].rsplit(":", 1)[1])  # run_tools: '<prefix>:<turn>'


async def scheduled_activities(handle: WorkflowHandle[Any, Any]) -> list[Scheduled]:
    """Every activity scheduled in the run, in order, with its input and last attempt."""
    by_event: dict[int, Scheduled] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            payload = json.loads(attrs.input.payloads[0].data)
            by_event[event.event_id] = Scheduled(
                attrs.activity_id, attrs.activity_type.name, payload
            )
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            by_event[started.scheduled_event_id].attempt = started.attempt
    return list(by_event.values())


async def slow_turn_running(client: Client, issue_workflow_id: str) -> Scheduled | None:
    """SLOW_TASK's run_tools call with the slow command, once a worker is carrying it out."""
    child = client.get_workflow_handle(task_workflow_id(issue_workflow_id, SLOW_TASK))
    try:
        described = await child.describe()
    except RPCError:
        return None  # the task has not started yet
    for pending in described.raw_description.pending_activities:
        if (
            pending.activity_type.name == names.RUN_TOOLS
            and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        ):
            for scheduled in await scheduled_activities(child):
                calls = scheduled.input.get("calls", [])
                if scheduled.activity_id == pending.activity_id and any(
                    c["name"] == "run" and "sleep" in c["arguments"]["command"] for c in calls
                ):
                    return scheduled
    return None


def branch_logs(stack: Stack, tmp_path: Path, branches: list[str]) -> dict[str, str]:
    """``git log main..<branch>`` of each branch, from one clone of the forge's repository."""
    owner, name = stack.repo.split("/")
    checkout = tmp_path / "checkout"
    git("clone", "-q", stack.forge.clone_url(owner, name), str(checkout), cwd=tmp_path)
    return {
        b: git("log", "--format=%B", f"origin/main..origin/{b}", cwd=checkout) for b in branches
    }


async def test_killed_worker_mid_trajectory_resumes_at_the_same_turn(
    stack: Stack, tmp_path: Path
) -> None:
    # A worker PROCESS of its own, on its own task queue (the fixture's in-process worker
    # serves another queue).
    env = {
        **stack.env,
        "AUTOPILOT__TEMPORAL__TASK_QUEUE": f"kill-{uuid.uuid4().hex[:8]}",
        "AUTOPILOT__RUN__TASK_TEST_ATTEMPTS": "1",  # each task also runs the tests after its loop
        "PYTHONPATH": str(PROJECT),
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        workflow_id = await start_run(stack, tmp_path, env, SLOW_ISSUE)
        killed = await eventually(
            lambda: slow_turn_running(stack.client, workflow_id),
            lambda scheduled: scheduled is not None,
            timeout=60,
            interval=0.1,
            what=lambda: (
                f"{SLOW_TASK}'s slow turn running; worker log:\n" + log.read_text()[-3000:]
            ),
        )
        assert killed is not None and killed.turn == SLOW_TURN
        await asyncio.sleep(1.5)  # inside `sleep 5`, after the turn's str_replace
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker = start_worker(env, log)
        handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
        # A dead worker is noticed by heartbeat timeouts (10-30 s); leave room for a loaded CI.
        result = await asyncio.wait_for(handle.result(), 180)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert result.outcome == "pr_opened", result.status.error
    assert log.read_text().count("worker started") == 2

    # Every task's loop took each of its turns once: one model.agent_turn per turn (its own
    # activity id) and one workspace.run_tools per turn. The killed turn's run_tools is the same
    # scheduled activity, retried (attempt > 1) on the new worker, not a turn taken again.
    number = int(workflow_id.rsplit(":", 1)[1])
    issue_branch = f"autopilot/issue-{number}"
    for task in TASKS:
        child = stack.client.get_workflow_handle(task_workflow_id(workflow_id, task))
        assert (await child.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert result.status.tasks[task].attempts == 1
        activities = await scheduled_activities(child)
        asked = [a for a in activities if a.activity_type == names.AGENT_TURN]
        ran = [a for a in activities if a.activity_type == names.RUN_TOOLS]
        turns = list(range(1, TURNS[task] + 1))
        assert [a.turn for a in asked] == turns, (task, [a.activity_id for a in asked])
        assert [a.turn for a in ran] == turns, task
        assert [a.activity_type for a in activities].count(names.RUN_TESTS) == 1, task
        assert len({a.activity_id for a in activities}) == len(activities), task
    slow = await scheduled_activities(
        stack.client.get_workflow_handle(task_workflow_id(workflow_id, SLOW_TASK))
    )
    [again] = [a for a in slow if a.activity_id == killed.activity_id]
    assert again.activity_type == names.RUN_TOOLS and again.turn == SLOW_TURN
    assert again.attempt > 1, "the kill did not land inside the slow turn"

    # Each edit was committed once: every trailer on the task branch once (the killed turn's
    # among them; the branch is first pushed by that turn, so it may also hold the sibling tasks
    # integrated by then), and the issue branch holds one commit per task.
    logs = branch_logs(stack, tmp_path, [issue_branch, task_branch(issue_branch, SLOW_TASK)])
    ids = change_ids(logs[task_branch(issue_branch, SLOW_TASK)])
    assert len(ids) == len(set(ids)) and killed.input["change_id"] in ids, ids
    ids = change_ids(logs[issue_branch])
    assert len(ids) == len(TASKS) == len(set(ids)), ids
    assert killed.input["change_id"] in ids

    # One pull request, one progress comment.
    owner, name = stack.repo.split("/")
    pulls = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls?state=all")
    assert [p["html_url"] for p in pulls] == [result.pr_url]
    comments = stack.forge.api("GET", f"/repos/{owner}/{name}/issues/{number}/comments")
    markers = [
        line
        for c in comments
        for line in c["body"].splitlines()
        if line.startswith("<!-- autopilot:")
    ]
    assert markers.count("<!-- autopilot:progress -->") == 1, markers
    assert len(markers) == len(set(markers)), markers  # no comment posted twice
