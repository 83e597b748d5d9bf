"""IssueWorkflow continues as new in its verify/review loops and carries its state across."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from domain.budget import BudgetLimits, ModelRunSettings
from domain.run import IssueResult, ResumeRequest
from domain.tiers import ModelRouting, TierModel
from tests.polling import eventually
from tests.workflows.fakes import COSTED_USAGE, FakeWorld
from tests.workflows.test_issue_workflow import STAGES_TO_PULL_REQUEST, issue_input, running
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(90)

PRICED = TierModel(provider="p", model="m", input_usd_per_mtok=1, output_usd_per_mtok=1)
ROUTING = ModelRouting(tiers={"fast": PRICED, "balanced": PRICED, "advanced": PRICED})
# Five failing test runs, then a green one.
FAIL_FIVE_TIMES = [False] * 5 + [True]


async def escalated(world: FakeWorld, escalation: int = 1) -> None:
    """Wait (in real time) until the run has reported that it waits for a resume.

    Polls the fakes, not the ``status`` query: a query that lands just as a run continues as
    new can hang the time-skipping test server.
    """
    marker = f"needs-human:{escalation}"

    async def writes() -> list[str]:
        return list(world.comment_writes)

    def reported(writes: list[str]) -> bool:
        return marker in writes and "progress" in writes[writes.index(marker) :]

    await eventually(
        writes, reported, timeout=60, what=f"a {marker} escalation, then a progress update"
    )


async def run_chain(
    env: WorkflowEnvironment, handle: WorkflowHandle[IssueWorkflow, IssueResult]
) -> list[str]:
    """Every run id of the workflow, first to last, following its continued-as-new events."""
    assert handle.first_execution_run_id is not None
    chain = [handle.first_execution_run_id]
    while True:
        run = env.client.get_workflow_handle(handle.id, run_id=chain[-1])
        history = await run.fetch_history()
        last = history.events[-1]
        if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
            return chain
        chain.append(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)


async def test_a_long_resolution_loop_continues_as_new_and_carries_its_state(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld(test_results=FAIL_FIVE_TIMES, usage=COSTED_USAGE)
    input = issue_input(auto_approve=True, max_verify_attempts=50, max_loop_rounds_per_run=2)
    input.model = ModelRunSettings(routing=ROUTING, budget=BudgetLimits(issue_usd=100.0))
    async with running(time_skipping_env, world, input) as handle:
        result = await handle.result()
        chain = await run_chain(time_skipping_env, handle)
    # Two test runs per run: 1-2 | 3-4 | 5-6, so at least two continue-as-new.
    assert len(chain) >= 3 and len(set(chain)) == len(chain)
    # A closed run never says "running": only the chain's last run carries the outcome.
    first = time_skipping_env.client.get_workflow_handle(handle.id, run_id=chain[0])
    attrs = (await first.describe()).typed_search_attributes
    assert attrs.get(SearchAttributeKey.for_keyword("Outcome")) == "continued"
    assert result.outcome == "pr_opened"
    assert world.test_runs == 6
    attempts = result.status.attempts
    assert (attempts["verify"], attempts["fix"], attempts["review"]) == (6, 5, 1)
    # Change ids stay unique and keep the first run's id across runs.
    assert len(world.applied) == len(set(world.applied))
    fixes = [c for c in world.applied if ":fix:" in c]
    assert fixes == [f"{chain[0][:8]}:{n}:fix:1" for n in range(1, 6)]  # one edit turn each
    # One progress comment, edited in place by every run; no escalation.
    assert world.comment_creations.count("progress") == 1
    assert set(world.comments) == {"progress", "plan:1"}
    assert world.labels == {"autopilot-pr-open"}
    # Usage of every run: a look and the plan, two turns for each of two tasks and five
    # fixes, one review.
    assert result.status.total_usage.calls == 17
    model = result.status.model
    assert model is not None and model.total.calls == 17
    assert model.total.cost_usd == pytest.approx(17 * 0.4)
    assert "**$6.8000**" in world.pulls[0].body
    stages = [t.stage for t in result.status.timings]
    assert stages == STAGES_TO_PULL_REQUEST
    assert all(t.finished_at is not None for t in result.status.timings)


async def test_a_resume_while_escalated_carries_its_guidance_into_the_next_run(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Run 1: fail, fail | run 2: fail -> needs-human -> resume, fail | run 3: fail, pass.
    world = FakeWorld(test_results=FAIL_FIVE_TIMES)
    input = issue_input(auto_approve=True, max_verify_attempts=3, max_loop_rounds_per_run=2)
    async with running(time_skipping_env, world, input) as handle:
        await escalated(world)
        escalated_in = (await handle.describe()).run_id
        assert escalated_in != handle.first_execution_run_id
        assert world.test_runs == 3 and "needs-human" in world.labels
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol", guidance="use Decimal"))
        result = await handle.result()
        chain = await run_chain(time_skipping_env, handle)
    assert len(chain) >= 3 and chain.index(escalated_in) < len(chain) - 1
    assert result.outcome == "pr_opened"
    assert world.test_runs == 6
    fixes = [r for r in world.edit_requests if r.purpose == "fix"]
    assert len(fixes) == 5
    # The guidance reaches every fix after the resume, also those in the next run.
    assert ["use Decimal" in f.feedback for f in fixes] == [False, False, True, True, True]
    assert [m for m in world.comments if m.startswith("needs-human")] == ["needs-human:1"]
    assert "needs-human" not in world.labels
    assert result.status.attempts["verify"] == 6


async def test_the_review_loop_keeps_its_bound_across_runs(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # One round per run: runs continue at review (carrying the test run) and inside review's
    # own verify; the review bound still counts rounds across them and escalates.
    world = FakeWorld(review_verdicts=["request_changes", "request_changes", "approve"])
    input = issue_input(auto_approve=True, max_review_rounds=2, max_loop_rounds_per_run=1)
    async with running(time_skipping_env, world, input) as handle:
        await escalated(world)
        assert world.reviews == 2
        await handle.signal(IssueWorkflow.resume, ResumeRequest(by="carol"))
        result = await handle.result()
        chain = await run_chain(time_skipping_env, handle)
    assert len(chain) >= 4
    assert result.outcome == "pr_opened"
    # Three review rounds plus the one change they asked for.
    assert world.reviews == 3 and result.status.attempts["review"] == 4
    assert [m for m in world.comments if m.startswith("needs-human")] == ["needs-human:1"]
    assert [c for c in world.applied if ":review:" in c] == [f"{chain[0][:8]}:1:review:1"]
