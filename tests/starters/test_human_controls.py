"""Human controls always answer: refusals are one line and a non-zero status from the CLIs,
and a reason (plus one reply on the issue) from the webhook; ``/autopilot retry`` resumes a
waiting run and starts a new one once it has finished.

On the real Temporal dev server with a stub run whose ``approve`` validator refuses anyone but
alice, and the local forge for the replies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.forge.client import GiteaClient
from domain.run import ApprovalDecision, ResumeRequest
from starters.common import start_issue_run
from starters.webhook.backend import Refused, TemporalBackend
from tests.starters.conftest import Stack
from tests.starters.helpers import finish, latest, run_starter

RETRY = ResumeRequest(by="alice")


@pytest.fixture
async def backend(stack: Stack) -> AsyncIterator[TemporalBackend]:
    async with GiteaClient(stack.forge.base_url, stack.forge.token) as forge:
        yield TemporalBackend(stack.client, stack.config, forge)


def args(stack: Stack, *more: str) -> list[str]:
    return ["--repo", stack.issue.repo.full_name, "--issue", str(stack.issue.number), *more]


async def test_approve_cli_prints_the_validators_refusal(stack: Stack) -> None:
    await start_issue_run(stack.client, stack.config, stack.issue)
    refused = await run_starter(
        "starters.approve", args(stack, "--approve", "--as", "mallory"), stack.env
    )
    assert refused.code == 2 and refused.out == ""
    assert refused.err.strip().splitlines() == [
        "approve: decision refused: 'mallory' is not an approver for this repository"
    ]
    approved = await run_starter(
        "starters.approve", args(stack, "--approve", "--as", "alice"), stack.env
    )
    assert (approved.code, approved.out.strip()) == (0, "approved")


async def test_approve_cli_after_the_run_finished_says_so(stack: Stack) -> None:
    await start_issue_run(stack.client, stack.config, stack.issue)
    await finish(stack.client, stack.issue)
    refused = await run_starter(
        "starters.approve", args(stack, "--approve", "--as", "alice"), stack.env
    )
    assert refused.code == 2
    assert refused.err.strip().splitlines() == [
        f"approve: decision refused: the run for issue #{stack.issue.number} in "
        f"{stack.issue.repo.full_name} has finished (completed, outcome pr_opened)"
    ]


async def test_resume_cli_refuses_a_run_not_waiting_for_it(stack: Stack) -> None:
    await start_issue_run(stack.client, stack.config, stack.issue)
    refused = await run_starter("starters.resume", args(stack), stack.env)
    assert refused.code == 2 and refused.out == ""
    assert refused.err.strip().splitlines() == [
        f"resume: the run for issue #{stack.issue.number} is not waiting for resume "
        "(it is waiting for approval)"
    ]


async def test_webhook_start_refuses_a_finished_run_and_retry_restarts_it(
    stack: Stack, backend: TemporalBackend
) -> None:
    issue = stack.issue
    assert await backend.start(issue) == "started"
    assert await backend.start(issue) == "already running"
    with pytest.raises(Refused, match="not waiting for resume \\(it is waiting for approval\\)"):
        await backend.retry(issue, RETRY)
    await finish(stack.client, issue)
    first_run, _ = await latest(stack.client, issue)

    with pytest.raises(
        Refused, match=r"has finished .*; to start a new one, comment /autopilot retry"
    ):
        await backend.start(issue)
    assert await latest(stack.client, issue) == (first_run, WorkflowExecutionStatus.COMPLETED)

    assert await backend.retry(issue, RETRY) == "restarted"
    run_id, status = await latest(stack.client, issue)
    assert run_id != first_run and status == WorkflowExecutionStatus.RUNNING


async def test_webhook_retry_resumes_a_waiting_run(stack: Stack, backend: TemporalBackend) -> None:
    issue = stack.issue
    with pytest.raises(Refused, match=r"no run for issue #\d+ to retry; add the label 'autopilot'"):
        await backend.retry(issue, RETRY)
    await backend.start(issue)
    with pytest.raises(Refused, match="decision refused: 'mallory' is not an approver"):
        await backend.decide(issue, ApprovalDecision(approver="mallory", approved=True))
    assert await backend.decide(issue, ApprovalDecision(approver="alice", approved=True)) == (
        "approved"
    )
    run_id, _ = await latest(stack.client, issue)
    assert await backend.retry(issue, RETRY) == "resumed"
    await stack.client.get_workflow_handle(issue.workflow_id).result()  # the stub ends on resume
    assert await latest(stack.client, issue) == (run_id, WorkflowExecutionStatus.COMPLETED)
    with pytest.raises(
        Refused,
        match=r"^the run for issue #\d+ in \S+ has finished \(completed, outcome pr_opened\)$",
    ):
        await backend.decide(issue, ApprovalDecision(approver="alice", approved=True))


async def test_webhook_replies_once_per_comment(stack: Stack, backend: TemporalBackend) -> None:
    issue = stack.issue
    for _ in range(2):  # a redelivery of the same comment's event
        await backend.reply(issue, 41, "@eve Autopilot did not carry out `/autopilot approve`: no")
    await backend.reply(issue, 42, "@eve Autopilot did not carry out `/autopilot resume`: no")
    repo = issue.repo
    comments = stack.forge.api(
        "GET", f"/repos/{repo.owner}/{repo.name}/issues/{issue.number}/comments"
    )
    assert [c["body"].splitlines()[0] for c in comments] == [
        "@eve Autopilot did not carry out `/autopilot approve`: no",
        "@eve Autopilot did not carry out `/autopilot resume`: no",
    ]
    assert [c["body"].splitlines()[-1] for c in comments] == [
        "<!-- autopilot:reply-41 -->",
        "<!-- autopilot:reply-42 -->",
    ]


async def test_steer_checks_the_run_before_it_sends_anything(stack: Stack) -> None:
    await start_issue_run(stack.client, stack.config, stack.issue)
    number, repo = stack.issue.number, stack.issue.repo.full_name
    unknown = await run_starter("starters.steer", args(stack, "skip-task", "fix-parser"), stack.env)
    assert (unknown.code, unknown.out) == (2, "")
    assert unknown.err.strip() == ("steer: the plan has no task 'fix-parser' (its tasks: none yet)")
    no_task = await run_starter(
        "starters.steer",
        args(stack, "raise-budget", "--task", "fix-parser", "--task-usd", "2"),
        stack.env,
    )
    assert no_task.code == 2
    assert no_task.err.strip() == f"steer: task fix-parser of issue #{number} is not running"
    await finish(stack.client, stack.issue)
    ended = await run_starter("starters.steer", args(stack, "cancel"), stack.env)
    assert ended.code == 2 and ended.out == ""
    assert ended.err.strip().startswith(
        f"steer: the run for issue #{number} in {repo} has finished (completed, outcome pr_opened)"
    )
