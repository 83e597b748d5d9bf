"""The demo issue on the real stack, ending otherwise than in one run: a run that fails because
the repository is archived, and a run whose verify/review loop continues as new (twice) and
still opens the pull request."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from config.settings import load_config
from domain.run import IssueResult, IssueStatus
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import DEMO, Stack
from tests.e2e.histories import continued_from, save_history

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def start_demo_run(stack: Stack, archived: bool = False, **run: str) -> str:
    """Seed the demo repository and issue and start a run with ``run.*`` settings."""
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, DEMO / "repo")
    issue = await stack.seeder.open_issue(owner, name, DEMO / "issue.md")
    if archived:
        await stack.seeder.call("PATCH", f"/repos/{owner}/{name}", {"archived": True})
    overrides = {f"AUTOPILOT__RUN__{key.upper()}": value for key, value in run.items()}
    config = load_config(env={**stack.env, **overrides})
    ref = issue_ref(config, stack.repo, issue["number"])
    await start_issue_run(stack.client, config, ref)
    return ref.workflow_id


async def test_an_archived_repository_fails_the_run_at_intake(stack: Stack) -> None:
    workflow_id = await start_demo_run(stack, archived=True, auto_approve="true")
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "stage intake failed" in str(failed.value.cause)
    assert "is archived" in str(failed.value.cause)
    status = await handle.query("status", result_type=IssueStatus)
    assert status.outcome == "failed" and (status.error or "").startswith("intake: ")
    assert status.plan_version == 0  # nothing was planned, let alone pushed
    owner, name = stack.repo.split("/")
    branches = stack.forge.api("GET", f"/repos/{owner}/{name}/branches")
    assert [b["name"] for b in branches] == ["main"]
    await save_history(stack.client, workflow_id, "failed")


async def test_a_long_loop_continues_as_new_and_still_opens_the_pull_request(
    stack: Stack,
) -> None:
    # One verify or review round per run: the demo's red-then-green verify and its review
    # continue as new at the verify and at the review boundary.
    workflow_id = await start_demo_run(stack, auto_approve="true", max_loop_rounds_per_run="1")
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    result = await handle.result()
    assert result.outcome == "pr_opened", result.status.error
    assert result.status.attempts.get("verify") == 2, result.status.attempts
    # The fix between the two verify runs is a loop of its own (four turns, in the first run);
    # its summary reaches the last run with the carried status.
    fix = result.status.loops["fix 1"]
    assert (fix.turns, fix.finished) == (4, True), fix

    chain = [(await handle.describe()).run_id]  # newest first
    while (previous := await continued_from(stack.client, workflow_id, chain[-1])) is not None:
        chain.append(previous)
    assert len(chain) == 3, chain
    for run_id in chain[1:]:
        described = await stack.client.get_workflow_handle(workflow_id, run_id=run_id).describe()
        assert described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    owner, name = stack.repo.split("/")
    pulls = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls?state=all")
    assert [p["html_url"] for p in pulls] == [result.pr_url]
    # The first run continued as new at verify; the middle one started from the carried state
    # and continued as new again, at review.
    await save_history(stack.client, workflow_id, "continued_as_new", run_id=chain[2])
    await save_history(stack.client, workflow_id, "resumed_and_continued_as_new", run_id=chain[1])
