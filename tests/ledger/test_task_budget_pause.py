"""A plan task paused on its own model budget, on the real dev server (the time-skipping
server does not deliver Updates to child workflows): the task says so on the issue, names the
flag that lifts it, and takes the raise itself."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.budget import BudgetLimits, BudgetRaise, ModelRunSettings
from domain.task import task_workflow_id
from tests.polling import eventually
from tests.workflows.fakes import COSTED_USAGE, FakeWorld
from tests.workflows.test_issue_budget import ROUTING
from tests.workflows.test_issue_workflow import issue_input, running
from workflows import render

pytestmark = pytest.mark.timeout(90)


async def test_a_task_paused_on_its_own_budget_says_so_and_its_raise_goes_to_the_task(
    dev_server: WorkflowEnvironment,
) -> None:
    world = FakeWorld(usage=COSTED_USAGE)
    input = issue_input(auto_approve=True)
    # Each call costs 0.4: after its first turn a task is past its 0.3.
    input.model = ModelRunSettings(routing=ROUTING, budget=BudgetLimits(task_usd=0.3))
    input.settings.max_parallel_tasks = 1
    async with running(dev_server, world, input) as handle:
        # The plan's two tasks run one after the other; each pauses on its own budget.
        for task_id in ("fix-discount", "add-test"):
            marker = f"budget:task:{task_id}"
            said = await eventually(
                lambda: asyncio.sleep(0, world.comments),
                lambda comments, marker=marker: marker in comments,  # type: ignore[misc]
                what=f"task {task_id}'s budget comment",
            )
            assert f"raise-budget --task {task_id} --task-usd" in said[marker]
            # The issue's run is not the one paused: its Update refuses.
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("raise_budget", BudgetRaise(by="carol", task_usd=10.0))
            task = dev_server.client.get_workflow_handle(
                task_workflow_id(input.issue.workflow_id, task_id)
            )
            answer = await task.execute_update(
                "raise_budget", BudgetRaise(by="carol", task_usd=10.0), result_type=str
            )
            assert answer.endswith("continuing")
        result = await handle.result()
    assert result.outcome == "pr_opened"
    for task_id in ("fix-discount", "add-test"):
        assert world.comments[f"budget:task:{task_id}"] == render.task_budget_raised(task_id)
