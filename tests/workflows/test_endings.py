"""Every ending is visible: spent retries end with a comment, a label and the Outcome, or ask
a person when a long call could not finish."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from domain.run import ResumeRequest
from tests.dev_server import running_dev_server
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for
from workflows import options
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(120)

WRITE_IN_FLIGHT_SECONDS = 2.0


async def test_spent_forge_retries_end_the_run_visibly(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(forge_down_for_pulls=True)
    input = issue_input(auto_approve=True, runs_url="http://ui.test/namespaces/default/workflows")
    async with running(time_skipping_env, world, input) as handle:
        await time_skipping_env.sleep(options.FORGE.schedule_to_close or timedelta(hours=1))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
        described = await handle.describe()
    assert "stage pull_request failed: retries ran out" in str(failure.value.cause)
    assert status.outcome == "failed"
    assert "ForgeUnavailable" in world.comments["failed:pull_request"]
    assert world.labels == {"autopilot-failed"}
    link = "http://ui.test/namespaces/default/workflows/autopilot%3Aforge.test%3Ao%3Ar%3A1"
    assert (
        f"Run: [`autopilot:forge.test:o:r:1`]({link}) (Temporal Web UI)"
        in (world.comments["progress"])
    )
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


async def test_cancelling_a_run_during_a_call_ends_it_cancelled_not_failed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_run_hangs=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        await wait_for(handle, lambda s: s.stage == "verify")
        await asyncio.sleep(0.5)  # the test run is in flight
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        status = await handle.query(IssueWorkflow.status)
    assert isinstance(ended.value.cause, CancelledError)
    assert status.outcome == "cancelled" and status.error is None
    assert "Outcome: **cancelled**" in world.comments["progress"]
    assert not any(marker.startswith(("failed:", "needs-human")) for marker in world.comments)
    assert world.labels == set()


async def test_a_refused_label_cleanup_still_says_the_run_was_cancelled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(labels_stay=True)
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    progress = world.comments["progress"]
    assert "Outcome: **cancelled**" in progress
    assert "Note: the forge refused to remove `needs-human`, `autopilot-in-progress`" in progress


async def test_a_run_cancelled_while_opening_its_pull_ends_after_the_forge_answered() -> None:
    lands = asyncio.Event()
    world = FakeWorld(pull_lands=lands)
    async with (
        running_dev_server() as env,
        running(env, world, issue_input(auto_approve=True)) as handle,
    ):
        await world.pull_requested.wait()
        await handle.cancel()
        # The write is in flight: the run does not end (and say so) before it lands.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(handle.result()), WRITE_IN_FLIGHT_SECONDS)
        lands.set()
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
    assert isinstance(ended.value.cause, CancelledError)
    assert len(world.pulls) == 1 and world.comment_writes_before_pull is not None
    assert len(world.comment_writes) > world.comment_writes_before_pull  # the ending came after
    assert "Outcome: **cancelled**" in world.comments["progress"]
    assert world.labels == set()
