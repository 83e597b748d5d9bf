"""The ``IssueWorkflow`` children of a cross-repository change: one per repository of the set.

Sequential sets start a child once its dependencies have an approved, green PR; parallel sets
start them all at once. A child that ends without a PR fails the set (``SetFailed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ChildWorkflowError

from domain import names
from domain.merge import MergePolicy
from domain.run import IssueResult, IssueWorkflowInput
from workflows.cross_repo_set import CrossRepoSet
from workflows.errors import SetFailed, innermost

ChildHandle = workflow.ChildWorkflowHandle[Any, IssueResult]

# Children are asked to cancel (so they clean their labels) if this run ends without them.
CHILD_CLOSE_POLICY = workflow.ParentClosePolicy.REQUEST_CANCEL


class Children:
    def __init__(self, crs: CrossRepoSet, on_end: Callable[[], None]) -> None:
        self._set = crs
        self._on_end = on_end  # wakes the parent's poll loop when a child ends
        self._handles: dict[str, ChildHandle] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._results: dict[str, IssueResult | BaseException] = {}

    def startable(self, name: str) -> bool:
        status = self._set.status
        if status.repos[name].stage != "waiting":
            return False
        if self._set.input.coordination == "parallel":
            return True
        return all(status.repos[d].stage in ("ready", "merged") for d in self._set.deps[name])

    def any_startable(self) -> bool:
        return any(self.startable(n) for n in self._set.status.order)

    async def start_ready(self) -> None:
        for name in self._set.status.order:
            if self.startable(name):
                await self._start(name)

    async def _start(self, name: str) -> None:
        target, issue = self._set.targets[name], self._set.issues[name]
        handle = await workflow.start_child_workflow(
            names.ISSUE_WORKFLOW,
            IssueWorkflowInput(
                issue=issue,
                # The set merges its PRs together and reads their reviews: a child ends once
                # its PR is open, never merging or watching it itself.
                repo_settings=target.repo_settings.model_copy(update={"merge": MergePolicy()}),
                settings=target.settings.model_copy(update={"max_review_iterations": 0}),
                model=target.model,
                review_feedback=self._set.feedback.get(name, []),
            ),
            id=issue.workflow_id,  # the linked issue's own run id: starters attach to it
            result_type=IssueResult,
            parent_close_policy=CHILD_CLOSE_POLICY,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(names.SA_REPO, issue.repo.full_name),
                    SearchAttributePair(names.SA_ISSUE, issue.number),
                    SearchAttributePair(names.SA_STAGE, "intake"),
                    SearchAttributePair(names.SA_OUTCOME, "running"),
                    SearchAttributePair(names.SA_CROSS_REPO, self._set.key),
                ]
            ),
            static_summary=f"{self._set.input.workflow_name}: {issue.repo.full_name}",
        )
        self._handles[name] = handle
        self._results.pop(name, None)
        self._watchers[name] = asyncio.create_task(self._watch(name, handle))
        self._set.status.repos[name].stage = "running"

    async def _watch(self, name: str, handle: ChildHandle) -> None:
        try:
            self._results[name] = await handle
        except (ChildWorkflowError, asyncio.CancelledError) as err:
            self._results[name] = err
        self._on_end()

    def check(self) -> None:
        """Record finished children; one that did not open a PR fails the set."""
        for name in self._set.status.order:
            progress = self._set.status.repos[name]
            result = self._results.get(name)
            if result is None or progress.stage != "running":
                continue
            if isinstance(result, IssueResult) and result.outcome == "pr_opened":
                progress.pr_number = result.status.pr_number
                progress.pr_url = result.status.pr_url
                progress.stage = "pr_open"
                continue
            progress.stage = "failed"
            if isinstance(result, IssueResult):
                progress.error = f"its run ended as {result.outcome}"
            else:
                progress.error = f"its run failed: {innermost(result)}"
            raise SetFailed(f"{progress.repo}: {progress.error}")

    async def stop(self) -> None:
        """Cancel every running child and wait until each has ended."""
        for name, handle in self._handles.items():
            if name not in self._results:
                handle.cancel()
        for name, watcher in self._watchers.items():
            await watcher
            progress = self._set.status.repos[name]
            if progress.stage == "running":
                progress.stage = "cancelled"

    def reset_failed(self) -> None:
        """The failed and cancelled repositories wait to be started again (``retry``)."""
        for progress in self._set.status.repos.values():
            if progress.stage in ("failed", "cancelled"):
                progress.stage = "waiting"
                progress.error = None
                progress.pr_number = progress.pr_url = None
                progress.verdict = "pending"
                progress.green = False
