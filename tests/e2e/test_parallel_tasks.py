"""Parallel plan tasks on the real stack: a merge conflict the model resolves, and a worker
process killed in the middle of a task."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from config.settings import load_config
from devstack.model_server.testing import running_model_server
from domain.run import IssueResult
from domain.task import task_workflow_id
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import Stack
from tests.e2e.histories import save_history
from tests.e2e.test_issue_to_pull_request import git, pytest_passes
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).resolve().parent / "data" / "parallel_scenario.yaml"
TASKS = ("add-mul", "add-sub", "docs", "tests")
OPS = '"""Arithmetic helpers."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n'


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """Overrides the demo model of tests/e2e/conftest.py for this module."""
    with running_model_server(SCENARIO) as url:
        yield url


def write_repo(root: Path, slow_seconds: float) -> Path:
    files = {
        "README.md": "# calc\n",
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        # A slow test run leaves time to kill the worker while a task's tests run.
        "conftest.py": f"import time\n\ntime.sleep({slow_seconds})\n",
        "calc/__init__.py": "",
        "calc/ops.py": OPS,
        "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n"
        "    assert add(2, 3) == 5\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


async def start_run(stack: Stack, tmp_path: Path, env: dict[str, str], slow: float) -> str:
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, write_repo(tmp_path / "seed", slow))
    issue_md = tmp_path / "issue.md"
    issue_md.write_text("# Add sub and mul\n\nThe calculator only adds.\n")
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
    workflow_id = await start_run(stack, tmp_path, stack.env, slow=0)
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    result = await asyncio.wait_for(handle.result(), 90)
    assert result.outcome == "pr_opened", result.status.error
    assert {t: p.state for t, p in result.status.tasks.items()} == dict.fromkeys(TASKS, "completed")
    assert result.status.attempts.get("conflict") == 1  # add-mul and add-sub collided once

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


async def running_test_activity(client: Client, issue_workflow_id: str) -> str | None:
    """The task whose child workflow is running the tests right now, if any."""
    for task_id in TASKS:
        child = client.get_workflow_handle(task_workflow_id(issue_workflow_id, task_id))
        try:
            described = await child.describe()
        except Exception:
            continue  # not started yet
        for pending in described.raw_description.pending_activities:
            if pending.activity_type.name == "workspace.run_tests":
                return task_id
    return None


async def test_killed_worker_mid_task_resumes_without_redoing_work(
    stack: Stack, tmp_path: Path
) -> None:
    # A worker PROCESS of its own, on its own task queue (the fixture's in-process worker
    # serves another queue).
    env = {
        **stack.env,
        "AUTOPILOT__TEMPORAL__TASK_QUEUE": f"kill-{uuid.uuid4().hex[:8]}",
        "AUTOPILOT__RUN__TASK_TEST_ATTEMPTS": "1",
        "PYTHONPATH": str(PROJECT),
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        workflow_id = await start_run(stack, tmp_path, env, slow=3)
        await eventually(
            lambda: running_test_activity(stack.client, workflow_id),
            lambda task_id: task_id is not None,
            timeout=60,
            interval=0.1,
            what=lambda: "a task running its tests; worker log:\n" + log.read_text()[-3000:],
        )
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
    for task in TASKS:
        child = stack.client.get_workflow_handle(task_workflow_id(workflow_id, task))
        assert (await child.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert result.status.tasks[task].attempts == 1
    number = int(workflow_id.rsplit(":", 1)[1])
    _, log_text = branch_log(stack, tmp_path, f"autopilot/issue-{number}")
    ids = change_ids(log_text)
    assert len(ids) == len(TASKS) == len(set(ids)), ids  # one commit per task, none twice
    assert log.read_text().count("worker started") == 2
