"""A finished run is restarted only by an explicit request, from every starter.

On the real Temporal dev server with a stub run: ``start_issue_run`` itself, the
``start_issue`` command (``--rerun``) and the Gitea Actions entry point (a re-fired event is
refused; the label removed and added again after the run starts a new one).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from starters.common import RunFinished, start_issue_run
from tests.starters.conftest import Stack
from tests.starters.helpers import finish, latest, run_starter

COMPLETED = WorkflowExecutionStatus.COMPLETED


async def test_a_finished_run_needs_an_explicit_rerun(stack: Stack) -> None:
    client, config, issue = stack.client, stack.config, stack.issue
    first = await start_issue_run(client, config, issue)
    joined = await start_issue_run(client, config, issue, rerun=True)  # never two at once
    assert (first.started, joined.started, joined.run_id) == (True, False, first.run_id)
    await finish(client, issue)
    ended = await client.get_workflow_handle(issue.workflow_id).describe()
    assert ended.close_time is not None and ended.start_time is not None

    with pytest.raises(RunFinished, match="has finished \\(completed, outcome pr_opened\\)"):
        await start_issue_run(client, config, issue)
    # A request from before the run ended (a re-fired event) is no reason either.
    with pytest.raises(RunFinished, match="/autopilot retry or run python -m starters"):
        await start_issue_run(client, config, issue, newer_than=ended.start_time)
    assert await latest(client, issue) == (first.run_id, COMPLETED)

    again = await start_issue_run(client, config, issue, rerun=True)
    assert again.started and again.run_id != first.run_id


async def test_a_request_made_after_the_run_ended_starts_a_new_one(stack: Stack) -> None:
    # Also how a run of an earlier issue with this number (a reset forge) stops blocking.
    client, config, issue = stack.client, stack.config, stack.issue
    first = await start_issue_run(client, config, issue)
    await finish(client, issue)
    ended = await client.get_workflow_handle(issue.workflow_id).describe()
    assert ended.close_time is not None
    later = ended.close_time + timedelta(seconds=1)
    again = await start_issue_run(client, config, issue, newer_than=later)
    assert again.started and again.run_id != first.run_id


async def test_start_issue_refuses_without_rerun(stack: Stack) -> None:
    issue = stack.issue
    args = ["--repo", issue.repo.full_name, "--issue", str(issue.number)]
    started = await run_starter("starters.start_issue", args, stack.env)
    assert started.code == 0 and started.out.startswith(f"started: {issue.workflow_id}")
    await finish(stack.client, issue)
    first_run, _ = await latest(stack.client, issue)

    refused = await run_starter("starters.start_issue", args, stack.env)
    assert refused.code == 2, refused
    assert refused.err.strip().splitlines() == [
        f"start_issue: the run for issue #{issue.number} in {issue.repo.full_name} has finished"
        " (completed, outcome pr_opened); pass --rerun to start a new one"
    ]
    assert await latest(stack.client, issue) == (first_run, COMPLETED)

    rerun = await run_starter("starters.start_issue", [*args, "--rerun"], stack.env)
    assert rerun.code == 0 and rerun.out.startswith("started: "), rerun
    run_id, status = await latest(stack.client, issue)
    assert run_id != first_run and status == WorkflowExecutionStatus.RUNNING


async def label_event(stack: Stack, number: int) -> dict[str, Any]:
    """The payload Gitea Actions hands the job when the trigger label is added now."""
    repo = stack.issue.repo
    path = f"/repos/{repo.owner}/{repo.name}"
    label = stack.config.trigger.label
    if not [lb for lb in stack.forge.api("GET", f"{path}/labels") if lb["name"] == label]:
        stack.forge.api("POST", f"{path}/labels", {"name": label, "color": "#00aabb"})
    stack.forge.api("DELETE", f"{path}/issues/{number}/labels")
    stack.forge.api("POST", f"{path}/issues/{number}/labels", {"labels": [label]})
    return {
        "action": "label_updated",
        "number": number,
        "changes": {"added_labels": [{"name": label}], "removed_labels": None},
        "issue": stack.forge.api("GET", f"{path}/issues/{number}"),
        "repository": stack.forge.api("GET", path),
    }


async def fire(stack: Stack, event: dict[str, Any], tmp_path: Path) -> tuple[int, list[str]]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    env = {**stack.env, "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(path)}
    ran = await run_starter("starters.gitea_actions", [], env)
    assert ran.err == "", ran
    return ran.code, ran.out.strip().splitlines()


async def test_actions_refuse_a_refired_event_and_honour_a_readded_label(
    stack: Stack, tmp_path: Path
) -> None:
    issue = stack.issue
    event = await label_event(stack, issue.number)
    code, lines = await fire(stack, event, tmp_path)
    assert code == 0 and lines[0] == f"started: {issue.workflow_id}"
    await finish(stack.client, issue)
    first_run, _ = await latest(stack.client, issue)

    # The same event fired again (a re-run job): nothing starts, and the job says why.
    code, lines = await fire(stack, event, tmp_path)
    repo, n = issue.repo.full_name, issue.number
    assert (code, lines) == (
        0,
        [
            f"autopilot: nothing to do (the run for issue #{n} in {repo} has finished "
            "(completed, outcome pr_opened) and this event is older; to start a new one, "
            "remove the label 'autopilot' and add it again, comment /autopilot retry or run "
            f"python -m starters.start_issue --repo {repo} --issue {n} --rerun)"
        ],
    )
    assert await latest(stack.client, issue) == (first_run, COMPLETED)

    # A person removes the label and adds it again: Gitea's times have one-second steps.
    await asyncio.sleep(1.1)
    code, lines = await fire(stack, await label_event(stack, issue.number), tmp_path)
    assert code == 0 and lines[0] == f"started: {issue.workflow_id}"
    run_id, status = await latest(stack.client, issue)
    assert run_id != first_run and status == WorkflowExecutionStatus.RUNNING
