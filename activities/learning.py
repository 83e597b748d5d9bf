"""Activities that speak to a repository's RepoLearningWorkflow: record an outcome, recall lessons
(with the recorded usage per plan task, for the plan's cost estimate).

Workflows cannot start other (non-child) workflows, so an ending run records its outcome
through ``learning.record_outcome``: a signal-with-start, which starts the repository's
learning workflow on its first record and only signals it afterwards.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.learning import (
    LearningInput,
    LearningState,
    OutcomeRecord,
    RecallInput,
    RecallOutput,
    learning_workflow_id,
    recorded_usage,
)
from domain.names import (
    LEARNING_RECORD,
    LEARNING_SNAPSHOT,
    LEARNING_WORKFLOW,
    RECALL_LESSONS,
    RECORD_OUTCOME,
)

# A query no worker answers would otherwise wait for the RPC default (about a minute).
QUERY_TIMEOUT = timedelta(seconds=5)


class LearningActivities:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name=RECORD_OUTCOME)
    async def record_outcome(self, record: OutcomeRecord) -> None:
        await self._client.start_workflow(
            LEARNING_WORKFLOW,
            LearningInput(state=LearningState(repo=record.repo)),
            id=learning_workflow_id(record.repo),
            task_queue=self._task_queue,
            start_signal=LEARNING_RECORD,
            start_signal_args=[record],
        )

    @activity.defn(name=RECALL_LESSONS)
    async def recall_lessons(self, request: RecallInput) -> RecallOutput:
        state = await learning_state(self._client, request.repo)
        if state is None:
            return RecallOutput()
        return RecallOutput(lessons=state.lessons, recorded=recorded_usage(state.records))


async def learning_state(client: Client, repo: str) -> LearningState | None:
    """The repository's records and lessons; None before its first record. Other RPC errors
    (no worker answering the query, say) are raised."""
    handle = client.get_workflow_handle(learning_workflow_id(repo))
    try:
        return await handle.query(
            LEARNING_SNAPSHOT, result_type=LearningState, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
