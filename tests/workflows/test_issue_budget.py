"""Model tiers and budgets inside a real IssueWorkflow run (time-skipping server, fakes by name)."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.budget import BudgetLimits, BudgetRaise, ModelRunSettings
from domain.tiers import ModelRouting, TierModel
from tests.workflows.fakes import COSTED_USAGE, FakeWorld
from tests.workflows.test_issue_workflow import issue_input, running, wait_for

pytestmark = pytest.mark.timeout(90)

PRICED = TierModel(provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=1)
ROUTING = ModelRouting(tiers={"fast": PRICED, "balanced": PRICED, "advanced": PRICED})


def tiered_input(issue_usd: float | None):  # type: ignore[no-untyped-def]
    input = issue_input(auto_approve=True)
    input.model = ModelRunSettings(routing=ROUTING, budget=BudgetLimits(issue_usd=issue_usd))
    return input


async def test_cost_is_tracked_per_stage_and_task_and_shown_on_the_pr(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(usage=COSTED_USAGE)
    async with running(time_skipping_env, world, tiered_input(None)) as handle:
        result = await handle.result()
    model = result.status.model
    assert result.outcome == "pr_opened" and model is not None
    # a look around and the plan, two turns per task (child workflows), the review: 0.4 each
    assert model.total.calls == 7 and model.total.cost_usd == pytest.approx(2.8)
    assert set(model.usage_by_task) == {"fix-discount", "add-test"}
    assert model.tiers["plan"] == "balanced" and model.tiers["review"] == "fast"
    body = world.pulls[0].body
    assert "**$2.8000**" in body
    # Each call once: stage rows add up to the total; tasks are a breakdown of the same calls.
    main, _, breakdown = body.partition("By plan task (a breakdown of the calls above")
    usage_rows = main.split("## Model usage")[1]
    # Every row names its tier and why, also a stage whose calls were for plan tasks.
    assert "| edits | fast | 4 (0) |" in usage_rows and "fix-discount" not in usage_rows
    assert "| plan | balanced | 2 (0) | 200 / 40 | $0.8000 | stage default (plan) |" in main
    assert "| fix-discount | fast | 2 (0) | 200 / 40 | $0.8000 | size: small task |" in breakdown
    plan_comment = world.comments["plan:1"]
    assert "Estimated model cost" in plan_comment and "sizes of the plan's files" in plan_comment
    # The PR puts the approved plan's estimate beside what the run used after approval.
    estimate = result.status.cost_estimate
    assert estimate is not None and estimate.basis == "sizes"
    after = body.split("## Cost estimate", 1)[1].split("## Model usage", 1)[0]
    assert f"| estimated before implementation | {estimate.total_tokens} |" in after
    assert "| actual after approval | 600 | $2.0000 |" in after


async def test_used_up_issue_budget_pauses_until_a_person_raises_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(usage=COSTED_USAGE)
    input = tiered_input(1.0)
    # Plan for 0.4 (no look around first), then the first task's two turns take the rest.
    input.settings.implement.plan_turns = 0
    async with running(time_skipping_env, world, input) as handle:
        status = await wait_for(handle, lambda s: s.waiting_for == "budget")
        assert status.model is not None and status.model.paused is not None
        assert status.model.paused.scope == "issue"
        spent = status.model.total.cost_usd
        # Never more than the one call in flight past the limit.
        assert 1.0 <= spent <= 1.0 + 0.4
        assert "The model budget of this issue is used up" in world.comments["budget:issue"]
        assert "raise-budget --issue-usd" in world.comments["budget:issue"]
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(  # not above the current limit
                "raise_budget", BudgetRaise(by="carol", issue_usd=0.5)
            )
        await handle.execute_update("raise_budget", BudgetRaise(by="carol", issue_usd=10.0))
        result = await handle.result()
    assert result.outcome == "pr_opened"
    assert result.status.model is not None and result.status.model.paused is None
