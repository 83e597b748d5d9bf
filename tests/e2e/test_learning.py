"""Learning on the real stack: a person's plan feedback in one run becomes a lesson that the
next run in the same repository sends to the model with its plan request."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.learning import learning_state
from domain import names
from domain.agent import AgentTurnInput
from domain.model import DraftPlanInput
from domain.run import ApprovalDecision, IssueResult, IssueStatus
from domain.task import CancelRequest
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import DEMO, Stack
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FEEDBACK = "Keep the fix inside shop/pricing.py and say why in the task"
LESSON = f"People asked plans here to: {FEEDBACK}"


async def start_run(stack: Stack) -> WorkflowHandle[Any, IssueResult]:
    owner, name = stack.repo.split("/")
    issue = await stack.seeder.open_issue(owner, name, DEMO / "issue.md")
    ref = issue_ref(stack.config, stack.repo, issue["number"])
    await start_issue_run(stack.client, stack.config, ref)
    return stack.client.get_workflow_handle(ref.workflow_id, result_type=IssueResult)


async def waiting_for_plan(handle: WorkflowHandle[Any, IssueResult], version: int) -> None:
    await eventually(
        lambda: handle.query("status", result_type=IssueStatus),
        lambda s: s.waiting_for == "approval" and s.plan_version == version,
        timeout=120,
        interval=0.1,
        what=f"plan {version} of {handle.id} waiting for approval",
    )


async def requests(handle: WorkflowHandle[Any, IssueResult], activity: str, kind: type) -> list:
    """What the run sent the model: the inputs of its ``activity`` calls, from its history."""
    found = []
    async for event in handle.fetch_history_events():
        scheduled = event.activity_task_scheduled_event_attributes
        if event.HasField("activity_task_scheduled_event_attributes") and (
            scheduled.activity_type.name == activity
        ):
            (decoded,) = pydantic_data_converter.payload_converter.from_payloads(
                scheduled.input.payloads, [kind]
            )
            found.append(decoded)
    return found


async def test_a_second_run_plans_with_the_lesson_the_first_run_taught(stack: Stack) -> None:
    await stack.seeder.create_repo(stack.repo.split("/")[1], DEMO / "repo")

    first = await start_run(stack)
    await waiting_for_plan(first, 1)
    await first.execute_update(
        "approve", ApprovalDecision(approver="ada", approved=False, feedback=FEEDBACK)
    )
    await waiting_for_plan(first, 2)
    await first.signal("cancel", CancelRequest(by="ada", reason="enough for the lesson"))
    assert (await first.result()).outcome == "cancelled"
    state = await eventually(
        lambda: learning_state(stack.client, stack.repo),
        lambda s: s is not None and s.aggregates.runs == 1,
        what="the first run's outcome record",
    )
    assert state is not None
    (record,) = state.records
    assert (record.outcome, record.rejections) == ("cancelled", [FEEDBACK])
    assert [lesson.text for lesson in state.lessons] == [LESSON]
    # The first run planned without lessons: there were none yet.
    assert all(not r.lessons for r in await requests(first, names.DRAFT_PLAN, DraftPlanInput))

    second = await start_run(stack)
    await waiting_for_plan(second, 1)
    (plan,) = await requests(second, names.DRAFT_PLAN, DraftPlanInput)
    assert plan.lessons == [LESSON]
    assert plan.feedback == []  # a lesson, not this run's own feedback
    explore = await requests(second, names.AGENT_TURN, AgentTurnInput)
    assert explore and all(turn.brief.lessons == [LESSON] for turn in explore)
    status = await second.query("status", result_type=IssueStatus)
    assert status.lessons == {"plan": [LESSON]}
    await second.signal("cancel", CancelRequest(by="ada"))
    assert (await second.result()).outcome == "cancelled"
