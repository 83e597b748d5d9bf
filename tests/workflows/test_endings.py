"""Every ending is visible: spent retries end with a comment, a label and the Outcome, or ask
a person when a long call could not finish."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from domain.run import ResumeRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for
from workflows import options
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(120)


async def test_spent_forge_retries_end_the_run_visibly(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(forge_down_for_pulls=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        await time_skipping_env.sleep(options.FORGE.schedule_to_close or timedelta(hours=1))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
        described = await handle.describe()
    assert "stage pull_request failed: retries ran out" in str(failure.value.cause)
    assert status.outcome == "failed"
    assert "ForgeUnavailable" in world.comments["failed:pull_request"]
    assert world.labels == {"autopilot-failed"}
    outcome = described.typed_search_attributes.get(SearchAttributeKey.for_keyword("Outcome"))
    assert outcome == "failed"


async def test_a_test_run_that_cannot_finish_asks_a_person_then_runs_again(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_run_crashes=options.LONG_CALL_ATTEMPTS)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        await time_skipping_env.sleep(timedelta(minutes=5))  # the retries' backoff
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")
        assert status.stage == "verify" and "needs-human" in world.labels
        assert "worker lost" in world.comments["needs-human:1"]
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol"))
        result = await handle.result()
    assert result.outcome == "pr_opened" and world.test_runs == 1
