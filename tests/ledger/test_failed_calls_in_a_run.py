"""Paid calls that failed, inside a real IssueWorkflow run: they stay in its cost table.

A task's second turn stays invalid after its re-asks (the activity reports what those paid
requests cost). The task fails; its TaskWorkflow hands its books to the parent in its error,
so the issue's table counts every call the task paid for, and the issue budget is charged
what the task spent instead of its whole allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain import names
from domain.agent import AgentTurnInput, AgentTurnOutput
from domain.budget import USAGE_DETAIL, BudgetLimits, ModelRunSettings
from domain.tiers import ModelRouting, TierModel
from domain.usage import TokenUsage
from tests.workflows.fakes import COSTED_USAGE, FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for

pytestmark = pytest.mark.timeout(90)

PRICED = TierModel(provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=1)
ROUTING = ModelRouting(tiers={"fast": PRICED, "balanced": PRICED, "advanced": PRICED})
# The failed turn: an answer and two re-asks, all paid for.
PAID = TokenUsage(input_tokens=900, output_tokens=90, calls=3, cost_usd=0.3)


@dataclass
class SecondTurnStaysInvalid(FakeWorld):
    @activity.defn(name=names.AGENT_TURN)
    async def agent_turn(self, input: AgentTurnInput) -> AgentTurnOutput:
        brief = input.brief
        second = any(m.role == "assistant" for m in input.messages)
        if brief.purpose == "task" and brief.task is not None and second:
            raise ApplicationError(
                "agent turn: still invalid",
                {USAGE_DETAIL: PAID.model_dump()},
                type=names.ERR_INVALID_MODEL_OUTPUT,
                non_retryable=True,
            )
        return await super().agent_turn(input)


async def test_a_failed_task_keeps_its_paid_calls_in_the_issue_table(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = SecondTurnStaysInvalid(usage=COSTED_USAGE)
    input = issue_input(auto_approve=True)
    input.settings.implement.plan_turns = 0
    input.model = ModelRunSettings(
        routing=ROUTING, budget=BudgetLimits(issue_usd=20.0, task_usd=5.0)
    )
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "resume")

    assert status.tasks["fix-discount"].state == "failed"
    model = status.model
    assert model is not None
    # The task's first turn ($0.40) and its failed second turn (3 paid requests, $0.30).
    task = model.usage_by_task["fix-discount"]
    assert (task.calls, task.cost_usd) == (4, pytest.approx(0.7))
    # The plan ($0.40) and the task: every call once in the stage rows and the total.
    assert model.total.calls == 5 and model.total.cost_usd == pytest.approx(1.1)
    assert sum(u.cost_usd for u in model.usage_by_stage.values()) == pytest.approx(1.1)
    assert "| **total** | | 5 (0) |" in model.markdown()
