"""An issue carried to a pull request on the real stack, triggered as Gitea Actions would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecution, WorkflowExecutionStatus

from domain.run import ApprovalDecision, IssueResult, IssueStatus
from starters.gitea_actions import handle_event
from tests.e2e.conftest import DEMO, Stack
from tests.e2e.histories import save_history
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def seed_issue(stack: Stack, tmp_path: Path) -> tuple[int, Path]:
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, DEMO / "repo")
    issue = await stack.seeder.open_issue(owner, name, DEMO / "issue.md")
    label = await stack.seeder.add_label(owner, name, issue["number"], stack.config.trigger.label)
    event = await stack.seeder.label_event(owner, name, issue["number"], label)
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    return issue["number"], event_path


def actions_env(stack: Stack, event_path: Path) -> dict[str, str]:
    return {**stack.env, "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event_path)}


async def wait_for_status(stack: Stack, workflow_id: str, waiting_for: str) -> IssueStatus:
    handle = stack.client.get_workflow_handle(workflow_id)
    return await eventually(
        lambda: handle.query("status", result_type=IssueStatus),
        lambda status: status.waiting_for == waiting_for,
        timeout=120,
        interval=0.1,
        what=f"{workflow_id} waiting for {waiting_for}",
    )


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "GIT_TERMINAL_PROMPT": "0", "HOME": str(cwd)}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def pytest_passes(checkout: Path) -> bool:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(checkout)},
    )
    return run.returncode == 0


async def test_labelled_issue_becomes_a_pull_request_with_passing_tests(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number, event_path = await seed_issue(stack, tmp_path)
    env = actions_env(stack, event_path)

    assert await handle_event(stack.config, env) == 0
    assert "started: " in capsys.readouterr().out
    workflow_id = (
        f"autopilot:{stack.forge.base_url.split('//')[1]}:{stack.repo.replace('/', ':')}:{number}"
    )
    await wait_for_status(stack, workflow_id, "approval")
    await save_history(stack.client, workflow_id, "waiting_at_approval", settle=True)

    # The same label event delivered again attaches to the running run.
    assert await handle_event(stack.config, env) == 0
    assert "already running: " in capsys.readouterr().out

    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    await handle.execute_update("approve", ApprovalDecision(approver="maintainer", approved=True))
    result = await handle.result()
    assert result.outcome == "pr_opened", result.status.error

    owner, name = stack.repo.split("/")
    pulls = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls?state=all")
    assert len(pulls) == 1
    (pull,) = pulls
    assert pull["html_url"] == result.pr_url
    assert pull["head"]["ref"] == f"autopilot/issue-{number}" and pull["base"]["ref"] == "main"
    assert pull["body"].startswith(f"Fixes #{number}")

    # The branch really fixes the bug: its tests pass where main's fail.
    checkout = tmp_path / "checkout"
    git("clone", "-q", stack.forge.clone_url(owner, name), str(checkout), cwd=tmp_path)
    assert not pytest_passes(checkout)
    git("checkout", "-q", f"autopilot/issue-{number}", cwd=checkout)
    assert pytest_passes(checkout)
    log = git("log", "--format=%B", "main..HEAD", cwd=checkout)
    # Two tasks and one fix. Each is a loop of four turns (view, str_replace, run, finish), but
    # only a turn whose edits change files commits: one commit per loop, as before the loop.
    assert log.count("Autopilot-Change:") == 3
    turns = {name: (loop.turns, loop.finished) for name, loop in result.status.loops.items()}
    assert turns == {
        "plan": (2, True),  # the planner's look: view, finish
        "task fix-bulk-discount-threshold": (4, True),
        "task add-regression-test": (4, True),
        "fix 1": (4, True),
    }
    # One model call per turn (14) plus the plan and the review: 16, where whole-file edits
    # took 5 (plan, two tasks, fix, review).
    assert result.status.total_usage.calls == 16, result.status.usage

    comments = stack.forge.api("GET", f"/repos/{owner}/{name}/issues/{number}/comments")
    markers = [
        line
        for c in comments
        for line in c["body"].splitlines()
        if line.startswith("<!-- autopilot:")
    ]
    assert sorted(markers) == ["<!-- autopilot:plan:1 -->", "<!-- autopilot:progress -->"]
    issue = stack.forge.api("GET", f"/repos/{owner}/{name}/issues/{number}")
    assert {label["name"] for label in issue["labels"]} == {"autopilot", "autopilot-pr-open"}

    # One run for this issue, ever; and the Web UI can find it by its search attributes.
    query = f'WorkflowId = "{workflow_id}" AND Stage = "done" AND Outcome = "pr_opened"'

    async def listed() -> list[WorkflowExecution]:
        return [run async for run in stack.client.list_workflows(query)]

    # Visibility is eventually consistent.
    runs = await eventually(listed, bool, interval=0.2, what=f"the Web UI listing {query}")
    assert len(runs) == 1 and runs[0].status == WorkflowExecutionStatus.COMPLETED
    await save_history(stack.client, workflow_id, "to_pull_request")
