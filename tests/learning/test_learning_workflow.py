"""A repository's learning workflow on the real dev server: records written by the activity
(signal-with-start), bounded across continue-as-new, lessons listed, edited and deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.learning import LearningActivities, learning_state
from domain.learning import (
    LearningInput,
    LearningState,
    Lesson,
    LessonDelete,
    LessonEdit,
    MergedNote,
    OutcomeRecord,
    RecallInput,
    learning_workflow_id,
)
from domain.names import (
    LEARNING_DELETE_LESSON,
    LEARNING_EDIT_LESSON,
    LEARNING_MERGED,
    LEARNING_WORKFLOW,
)
from tests.e2e.histories import continued_from, save_history
from tests.polling import eventually
from workflows.learning import RepoLearningWorkflow
from workflows.runner import WORKFLOW_RUNNER

START = datetime(2026, 1, 1, tzinfo=UTC)


def record(repo: str, n: int, **fields: object) -> OutcomeRecord:
    return OutcomeRecord.model_validate(
        {
            "repo": repo,
            "issue": n,
            "workflow_id": f"wf-{n}",
            "run_id": f"run-{n}",
            "ended_at": START + timedelta(hours=n),
            "outcome": "pr_opened",
            **fields,
        }
    )


async def test_records_stay_bounded_across_continue_as_new_and_people_curate_lessons(
    dev_server: WorkflowEnvironment,
) -> None:
    client, queue = dev_server.client, f"learning-{uuid.uuid4()}"
    repo = f"o/r-{uuid.uuid4().hex[:8]}"
    learning = LearningActivities(client, queue)
    async with Worker(
        client, task_queue=queue, workflows=[RepoLearningWorkflow], workflow_runner=WORKFLOW_RUNNER
    ):
        assert (await learning.recall_lessons(RecallInput(repo=repo))).lessons == []
        handle = await client.start_workflow(
            LEARNING_WORKFLOW,
            LearningInput(state=LearningState(repo=repo), max_records=3, max_operations_per_run=4),
            id=learning_workflow_id(repo),
            task_queue=queue,
        )
        first_run = handle.result_run_id
        await learning.record_outcome(record(repo, 1, rejections=["Add type hints"]))
        await learning.record_outcome(record(repo, 1, rejections=["Add type hints"]))  # retried
        for n in range(2, 6):
            await learning.record_outcome(
                record(repo, n, usage={"cost_usd": 0.5}, objections=[f"objection {n % 2}"])
            )
        await client.get_workflow_handle(handle.id).signal(
            LEARNING_MERGED, MergedNote(workflow_id="wf-5", merged=False)
        )

        async def state() -> LearningState | None:
            return await learning_state(client, repo)

        done = await eventually(state, lambda s: s is not None and s.aggregates.runs == 5)
        assert done is not None
        assert [r.issue for r in done.records] == [3, 4, 5]  # the newest 3 of 5
        assert done.records[-1].merged is False and not done.records[-1].succeeded
        assert done.aggregates.outcomes == {"pr_opened": 5} and done.aggregates.cost_usd == 2.0
        hints, zero, one = done.lessons
        assert (hints.text, hints.seen) == ("People asked plans here to: Add type hints", 1)
        assert (zero.text, zero.seen, one.seen) == ("Reviewers here asked: objection 0", 2, 2)
        first = client.get_workflow_handle(handle.id, run_id=first_run)
        assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW

        latest = client.get_workflow_handle(handle.id)
        with pytest.raises(WorkflowUpdateFailedError):  # refused by the validator
            await latest.execute_update(
                LEARNING_EDIT_LESSON, LessonEdit(id="L99", text="x", by="ada"), result_type=Lesson
            )
        with pytest.raises(WorkflowUpdateFailedError):
            await latest.execute_update(
                LEARNING_EDIT_LESSON,
                LessonEdit(id=zero.id, text="  ", by="ada"),
                result_type=Lesson,
            )
        edited = await latest.execute_update(
            LEARNING_EDIT_LESSON,
            LessonEdit(id=zero.id, text="Reviewers here want  a test per fix", by="ada"),
            result_type=Lesson,
        )
        assert (edited.text, edited.edited_by) == ("Reviewers here want a test per fix", "ada")
        await latest.execute_update(
            LEARNING_DELETE_LESSON, LessonDelete(id=hints.id, by="ada"), result_type=Lesson
        )
        await learning.record_outcome(
            record(repo, 6, rejections=["add type hints"], objections=["objection 0"])
        )
        recalled = await eventually(
            lambda: learning.recall_lessons(RecallInput(repo=repo)),
            lambda r: any(x.seen == 3 for x in r.lessons),
        )
        assert [(x.id, x.text, x.seen) for x in recalled.lessons] == [
            (zero.id, "Reviewers here want a test per fix", 3),  # the person's text stays
            (one.id, "Reviewers here asked: objection 1", 2),
        ]  # and the deleted lesson did not come back
        assert await continued_from(client, handle.id, (await latest.describe()).run_id)
        await save_history(client, handle.id, "continued_as_new", run_id=first_run)
        await save_history(client, handle.id, "lessons_curated", settle=True)
