"""The setup stage: one environment reaches every test run; a failing setup asks a person."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from domain.run import ResumeRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(90)


async def test_the_environment_prepared_at_setup_reaches_every_test_run(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_results=[True, True, False, True])
    input = issue_input(auto_approve=True, task_test_attempts=1)
    async with running(time_skipping_env, world, input) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    (environment,) = world.environments
    # Two tasks test their branches, then verify runs twice (a failure, then the fix).
    assert len(world.test_environments) == 4
    assert world.test_environments == [environment] * 4
    assert all(i.environment == environment for i in world.integrations)


async def test_a_failing_setup_shows_the_command_and_output_then_builds_again_on_resume(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(setup_failures=1)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        assert status.stage == "setup"
        assert world.labels >= {"needs-human"}
        comment = world.comments["needs-human:1"]
        assert "`pip install -e .[test]` exited with 1" in comment
        assert "No matching distribution found for frobnicate" in comment
        assert world.plan_requests == []  # nothing paid for before the environment works
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol"))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert len(world.environments) == 1 and "needs-human" not in world.labels


async def test_without_a_sandbox_the_setup_stage_fails_with_the_reason(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(sandbox_missing=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
    assert "stage setup failed: bubblewrap is not installed" in str(failure.value.cause)
    assert status.outcome == "failed"
    assert "bubblewrap is not installed" in world.comments["failed:setup"]
    assert world.labels >= {"autopilot-failed"}
