"""Best of N: candidate loops per task on their own branches and tiers; the tests pick one."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.budget import BudgetLimits, ModelRunSettings
from domain.names import SA_ISSUE, SA_REPO
from domain.task import task_workflow_id
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_issue_budget import ROUTING
from tests.workflows.test_issue_workflow import issue_input, running

pytestmark = pytest.mark.timeout(90)


async def test_the_smallest_passing_candidate_is_integrated(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Candidate 2 changes the fewest lines but fails its tests: candidate 3 wins (the fake diff
    # adds one deleted line to each).
    world = FakeWorld(lines_by_branch={"-c1": 40, "-c2": 5, "-c3": 12}, failing_branches={"-c2"})
    input = issue_input(auto_approve=True)
    input.settings.implement.candidates = 3
    input.model = ModelRunSettings(routing=ROUTING, budget=BudgetLimits(task_usd=3.0))
    async with running(time_skipping_env, world, input) as handle:
        result = await handle.result()
        task_id = task_workflow_id(input.issue.workflow_id, "fix-discount")
        candidate = time_skipping_env.client.get_workflow_handle(f"{task_id}/candidate/2")
        attributes = (await candidate.describe()).typed_search_attributes
    assert (attributes.get(SA_REPO), attributes.get(SA_ISSUE)) == (
        input.issue.repo.full_name,
        input.issue.number,
    )
    assert result.outcome == "pr_opened"
    integrated = {i.task_id: i.task_branch for i in world.integrations}
    assert integrated == {
        "fix-discount": "autopilot/issue-1-task-fix-discount-c3",
        "add-test": "autopilot/issue-1-task-add-test-c3",
    }
    loop = result.status.loops["task fix-discount"]
    assert loop.summary.startswith("best of 3: candidate 3 (candidate 1: 41 changed lines, tests")
    assert "candidate 2: 6 changed lines, tests failed" in loop.summary
    # Every candidate was paid for: three loops of two turns per task.
    model = result.status.model
    assert model is not None and model.usage_by_task["fix-discount"].calls == 6
    tiers = {t.tier for t in world.turns if t.brief.task and t.brief.task.id == "fix-discount"}
    assert tiers == {"fast", "balanced", "advanced"}
