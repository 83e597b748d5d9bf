"""An issue run's side of learning, activities faked by name: the outcome record it writes when
it ends (however it ends), and the recalled lessons and experiment variant in its prompts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from domain.agent import AgentBrief
from domain.learning import Experiment, Lesson, Variant, assign_variant
from domain.run import ApprovalDecision, RunSettings
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for

pytestmark = pytest.mark.timeout(90)

EXPERIMENT = Experiment(
    name="plan-style",
    variants=[Variant(name="a"), Variant(name="b", plan_prompt="Plan exactly one task.")],
)


def lesson(n: int, kind: str, text: str) -> Lesson:
    return Lesson.model_validate(
        {
            "id": f"L{n}",
            "kind": kind,
            "key": f"k{n}",
            "text": text,
            "last_seen": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )


async def test_a_run_records_what_people_reviewers_and_tests_objected_to(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_results=[False, True], review_verdicts=["request_changes", "approve"])
    async with running(time_skipping_env, world, issue_input()) as handle:
        await wait_for(handle, lambda s: s.waiting_for == "approval")
        await handle.execute_update(
            "approve", ApprovalDecision(approver="bob", approved=False, feedback="Add type hints")
        )
        await wait_for(handle, lambda s: s.waiting_for == "approval" and s.plan_version == 2)
        await handle.execute_update("approve", ApprovalDecision(approver="bob", approved=True))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    (record,) = world.outcome_records
    assert (record.repo, record.issue, record.outcome) == ("o/r", 1, "pr_opened")
    assert record.workflow_id == handle.id and record.plan_versions == 2
    assert record.plan_tasks == 2
    assert record.rejections == ["Add type hints"]
    assert record.objections == ["rename x"]
    assert record.test_failures == ["FAILED test_discount - assert 90 == 81 (run 1)"]
    assert record.attempts == result.status.attempts and record.attempts["verify"] == 3
    assert record.rubric == {"correctness": 4}
    assert record.usage.calls > 0


async def test_a_failed_run_is_recorded_and_fails_as_it_would_have(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(archived=True)
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    (record,) = world.outcome_records
    assert record.outcome == "failed" and (record.error or "").startswith("intake: ")


async def test_learning_that_is_down_changes_nothing_about_the_run(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(learning_down=True, recalled_lessons=[lesson(1, "plan-feedback", "x")])
    async with running(time_skipping_env, world, issue_input(auto_approve=True)) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened" and result.status.lessons == {}
    assert world.outcome_records == [] and world.plan_requests[0].lessons == []


async def test_recalled_lessons_and_the_assigned_variant_reach_the_prompts(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(
        recalled_lessons=[
            lesson(1, "plan-feedback", "People asked plans here to: Add type hints"),
            lesson(2, "review", "Reviewers here asked: rename x"),
        ]
    )
    input = issue_input(auto_approve=True).model_copy(
        update={"settings": RunSettings(auto_approve=True, experiments=[EXPERIMENT])}
    )
    async with running(time_skipping_env, world, input) as handle:
        result = await handle.result()
    assert result.outcome == "pr_opened"
    variant = assign_variant("o/r", 1, "plan-style", ["a", "b"])
    assert result.status.variants == {"plan-style": variant}
    (plan,) = world.plan_requests
    assert plan.lessons == ["People asked plans here to: Add type hints"]
    assert plan.approach == ("Plan exactly one task." if variant == "b" else "")
    briefs = [brief for brief in world.edit_requests if isinstance(brief, AgentBrief)]
    assert len(briefs) == len(world.edit_requests) == 2  # the two tasks' loops
    assert all(brief.lessons == ["Reviewers here asked: rename x"] for brief in briefs)
    assert world.review_requests[0].lessons == ["Reviewers here asked: rename x"]
    (record,) = world.outcome_records
    assert record.variants == {"plan-style": variant}
