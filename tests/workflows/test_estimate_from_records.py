"""A repository's recorded usage reaches the next plan's estimate: the first run estimates from
sizes and records what its tasks used after approval; the second, in the same repository,
estimates from that record. On the real dev server with the real RepoLearningWorkflow and its
activities (a signal-with-start and a query); the forge, model and workspace faked by name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.learning import LearningActivities, learning_state
from domain.budget import ModelRunSettings
from domain.estimate import actual_after_approval
from domain.issue import IssueRef, RepoRef
from domain.learning import LearningState
from domain.run import IssueResult, IssueWorkflowInput, RunSettings
from tests.dev_server import running_dev_server
from tests.polling import eventually
from tests.workflows.fakes import COSTED_USAGE, FakeWorld
from tests.workflows.test_issue_budget import ROUTING
from workflows.issue import IssueWorkflow
from workflows.learning import RepoLearningWorkflow
from workflows.runner import WORKFLOW_RUNNER
from workflows.task import TaskWorkflow

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


def tiered(repo: RepoRef, number: int) -> IssueWorkflowInput:
    return IssueWorkflowInput(
        issue=IssueRef(repo=repo, number=number),
        settings=RunSettings(auto_approve=True),
        model=ModelRunSettings(routing=ROUTING),
    )


async def run_issue(client: Client, queue: str, input: IssueWorkflowInput) -> IssueResult:
    handle = await client.start_workflow(
        IssueWorkflow.run, input, id=f"wf-{uuid.uuid4()}", task_queue=queue
    )
    return await handle.result()


async def test_a_second_run_estimates_from_the_first_runs_recorded_usage(
    dev_server: WorkflowEnvironment,
) -> None:
    client, queue = dev_server.client, f"records-{uuid.uuid4()}"
    repo = RepoRef(forge_url="http://forge.test", owner="o", name=f"r-{uuid.uuid4().hex[:8]}")
    world = FakeWorld(usage=COSTED_USAGE)
    learning = LearningActivities(client, queue)
    fakes = [*world.forge_activities(), *world.model_activities(), *world.workspace_activities()]
    async with Worker(
        client,
        task_queue=queue,
        workflows=[IssueWorkflow, TaskWorkflow, RepoLearningWorkflow],
        activities=[*fakes, learning.record_outcome, learning.recall_lessons],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        first = await run_issue(client, queue, tiered(repo, 1))
        assert first.outcome == "pr_opened", first.status.error
        assert first.status.cost_estimate is not None
        assert first.status.cost_estimate.basis == "sizes"  # nothing recorded yet

        async def state() -> LearningState | None:
            return await learning_state(client, repo.full_name)

        recorded = await eventually(state, lambda s: s is not None and len(s.records) == 1)
        assert recorded is not None
        (record,) = recorded.records
        model = first.status.model
        assert model is not None and record.plan_tasks == 2
        used = actual_after_approval(model.total, model.usage_by_stage.get("plan"))
        assert record.usage_after_approval == used and used.input_tokens > 0

        second = await run_issue(client, queue, tiered(repo, 2))
    assert second.outcome == "pr_opened", second.status.error
    estimate = second.status.cost_estimate
    assert estimate is not None and (estimate.basis, estimate.recorded_runs) == ("recorded", 1)
    per_task = [(t.input_tokens, t.output_tokens) for t in estimate.tasks]
    assert per_task == [(used.input_tokens // 2, used.output_tokens // 2)] * 2
    # The plan's comment says so (the second run's, posted last under the same marker).
    assert "From this repository's recorded usage (1 earlier runs)" in world.comments["plan:1"]
