"""The implement stage: plan tasks as child TaskWorkflows on a dependency DAG.

A task starts as soon as its last dependency is integrated (up to ``max_parallel_tasks``,
longest remaining critical path first); a finished task is merged into the issue branch at once,
so dependents start from a branch that holds their dependencies' work. A failed task blocks
only its dependents; when nothing else can run, a person resumes, skips or cancels.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain.issue import IssueInfo
    from domain.plan import Plan, PlanTask
    from domain.task import (
        ENSURE_BRANCH,
        INTEGRATE,
        RESOLVE_CONFLICT,
        TASK_WORKFLOW,
        EnsureBranchInput,
        IntegrateInput,
        IntegrateResult,
        ResolveConflictInput,
        ResolveConflictOutput,
        TaskProgress,
        TaskResult,
        TaskWorkflowInput,
        task_branch,
        task_workflow_id,
    )
    from domain.workspace import WorkspaceRef, WorkspaceState
    from workflows import options, recovery
    from workflows.dag import DagScheduler, effort_weight

if TYPE_CHECKING:
    from workflows.issue import IssueWorkflow

# Children are asked to cancel, not terminated, when the issue run closes: a task then stops
# between activities and its own history says so. Its work is safe either way (apply_edits and
# integrate are idempotent), but a cancelled child leaves no half-reported activity behind.
TASK_PARENT_CLOSE_POLICY = workflow.ParentClosePolicy.REQUEST_CANCEL
DONE_STATES = ("merged", "already_merged", "nothing_to_merge")


class TaskRunner:
    def __init__(
        self, wf: IssueWorkflow, issue: IssueInfo, plan: Plan, workspace: WorkspaceRef
    ) -> None:
        self._wf = wf
        self._issue = issue
        self._plan = plan
        self._workspace = workspace
        self._tasks = {t.id: t for t in plan.tasks}
        self._settings = wf._input.settings
        self._dag = DagScheduler(plan.tasks, self._settings.max_parallel_tasks, effort_weight)
        self._guidance: dict[str, str] = {}
        self._allowances: dict[str, float | None] = {}

    async def run(self) -> None:
        wf = self._wf
        # Task branches start from the issue branch, so the forge must have it first.
        await wf._call(
            ENSURE_BRANCH, EnsureBranchInput(workspace=self._workspace), WorkspaceState, options.GIT
        )
        for task in self._plan.tasks:
            wf._status.tasks.setdefault(task.id, TaskProgress())
        while True:
            await self._schedule()
            if not self._dag.failed_ids:
                return
            await self._ask_a_person()

    # ----- scheduling ------------------------------------------------------------------------

    async def _schedule(self) -> None:
        wf = self._wf
        running: dict[str, asyncio.Task[TaskResult]] = {}
        try:
            while True:
                for task_id in self._dag.next_to_start():
                    self._dag.started(task_id)
                    wf._status.tasks[task_id].attempts += 1
                    running[task_id] = asyncio.create_task(self._child(self._tasks[task_id]))
                self._sync()
                if not running:
                    return
                await wf._report()
                await workflow.wait_condition(
                    lambda: wf._cancel is not None or any(t.done() for t in running.values())
                )
                if wf._cancel is not None:
                    from workflows.issue import RunCancelled

                    raise RunCancelled()
                # Plan order among tasks that finished together: deterministic on replay.
                for task_id in [i for i in self._tasks if i in running and running[i].done()]:
                    await self._finish(task_id, running.pop(task_id))
        except BaseException:
            for child in running.values():
                child.cancel()  # requests cancellation of the child workflow
            # Wait for the children to acknowledge, so the run ends after its tasks.
            await asyncio.gather(*running.values(), return_exceptions=True)
            raise

    async def _child(self, task: PlanTask) -> TaskResult:
        wf = self._wf
        repo = wf._input.repo_settings
        workspace = self._workspace.model_copy(
            update={
                "base_branch": self._workspace.branch,
                "branch": task_branch(self._workspace.branch, task.id),
                "key": task_workflow_id(wf._input.issue.workflow_id, task.id),
            }
        )
        # The task's model budget is carved out of the issue's before it starts.
        allowance = await wf._gateway.task_allowance(task.id)
        self._allowances[task.id] = allowance
        return await workflow.execute_child_workflow(
            TASK_WORKFLOW,
            TaskWorkflowInput(
                issue=self._issue,
                plan=self._plan,
                task=task,
                workspace=workspace,
                attempt=wf._status.tasks[task.id].attempts,
                guidance=self._guidance.get(task.id, ""),
                test_command=repo.test_command if self._settings.task_test_attempts else None,
                test_timeout_seconds=repo.test_timeout_seconds,
                max_test_attempts=self._settings.task_test_attempts,
                model=wf._gateway.settings_for_task(allowance),
            ),
            id=task_workflow_id(wf._input.issue.workflow_id, task.id),
            result_type=TaskResult,
            parent_close_policy=TASK_PARENT_CLOSE_POLICY,
            static_summary=f"task {task.id}: {task.title}",
        )

    async def _finish(self, task_id: str, child: asyncio.Task[TaskResult]) -> None:
        wf = self._wf
        allowance = self._allowances.pop(task_id, None)
        try:
            result = child.result()
        except ChildWorkflowError as err:
            # What a failed task spent is unknown here: count its whole allowance.
            wf._gateway.task_finished(task_id, allowance, None, assumed_spent=allowance)
            cause = err.cause
            self._fail(task_id, getattr(cause, "message", None) or str(err))
            return
        wf._gateway.task_finished(task_id, allowance, result.model)
        wf._add_usage(result.usage)
        problem = await self._integrate(self._tasks[task_id], result)
        if problem:
            self._fail(task_id, problem)
            return
        self._dag.completed(task_id)
        wf._status.tasks[task_id].head_sha = result.head_sha
        for path in result.files:
            if path not in wf._touched:
                wf._touched.append(path)
        self._sync()

    def _fail(self, task_id: str, message: str) -> None:
        assert recovery.strategy_for("task_failed") == "escalate"
        self._dag.failed(task_id, f"{task_id} failed: {message}")
        self._sync()

    def _sync(self) -> None:
        """The status query's view of every task, from the scheduler."""
        dag = self._dag
        failures, blocked = dag.failures, dag.blocked
        for task_id, progress in self._wf._status.tasks.items():
            progress.cause = failures.get(task_id) or blocked.get(task_id)
            if task_id in dag.running:
                progress.state = "running"
            elif task_id in dag.completed_ids:
                progress.state = "completed"
            elif task_id in failures:
                progress.state = "failed"
            elif task_id in blocked:
                progress.state = "blocked"
            elif task_id in dag.skipped_ids:
                progress.state = "skipped"
            else:
                progress.state = "waiting"

    # ----- integration -----------------------------------------------------------------------

    async def _integrate(self, task: PlanTask, result: TaskResult) -> str | None:
        """Merge the task branch; a conflict goes to the model. The problem, or None."""
        from workflows.issue import StageFailed

        wf = self._wf
        request = IntegrateInput(
            workspace=self._workspace, task_id=task.id, task_branch=result.branch
        )
        try:
            merged = await self._integrate_call(request)
            if merged.status in DONE_STATES:
                return None
            assert recovery.strategy_for("merge_conflict") == "resolve_conflict"
            conflicts, feedback = merged.conflicts, ""
            repo = wf._input.repo_settings
            for _ in range(self._settings.max_conflict_attempts):
                wf._bump("conflict")
                resolved = await wf._call(
                    RESOLVE_CONFLICT,
                    ResolveConflictInput(
                        issue=self._issue,
                        plan=self._plan,
                        task=task,
                        conflicts=conflicts,
                        feedback=feedback,
                    ),
                    ResolveConflictOutput,
                    options.MODEL,
                )
                wf._add_usage(resolved.usage)
                files = {f.path: f.content for f in resolved.resolution.files}
                merged = await self._integrate_call(
                    request.model_copy(
                        update={
                            "resolution": files,
                            "test_command": repo.test_command,
                            "test_timeout_seconds": repo.test_timeout_seconds,
                        }
                    )
                )
                if merged.status in DONE_STATES:
                    return None
                if merged.status == "conflict":
                    conflicts = merged.conflicts
                feedback = f"The tests fail with that resolution:\n{merged.test_output}"
        except StageFailed as failure:
            return failure.message
        assert recovery.strategy_for("conflict_unresolved") == "fail_task"
        return (
            f"merging into {self._workspace.branch} conflicts in {', '.join(sorted(conflicts))}; "
            f"{self._settings.max_conflict_attempts} resolution(s) did not pass the tests"
        )

    async def _integrate_call(self, request: IntegrateInput) -> IntegrateResult:
        # A resolution is tested inside the call: the test budget, heartbeats, git's retries.
        budget = timedelta(seconds=request.test_timeout_seconds) + options.TEST_RUN_SLACK
        opts = options.CallOptions(
            start_to_close=budget,
            heartbeat=options.TEST_RUN_HEARTBEAT,
            retry=options.GIT.retry,
        )
        return await self._wf._call(INTEGRATE, request, IntegrateResult, opts)

    # ----- a person decides ------------------------------------------------------------------

    async def _ask_a_person(self) -> None:
        wf, dag = self._wf, self._dag
        failures = dag.failures
        reason = f"{len(failures)} task(s) failed: {', '.join(failures)}."
        lines = [*failures.values()]
        lines += [f"{t} is blocked ({cause})" for t, cause in dag.blocked.items()]
        done = list(dag.completed_ids)
        lines.append(f"completed and integrated: {', '.join(done) if done else 'none'}")
        resumed = await wf._escalate(reason, "\n".join(lines), tasks_failed=True)
        skips, wf._skips = wf._skips, []
        for task_id in dict.fromkeys(skips):
            if task_id in dag.failures or task_id in dag.blocked:
                dag.skipped(task_id)
        if resumed is not None and dag.failed_ids:
            # Resume: the failed tasks run again (with the guidance); completed ones stay done.
            state = dag.snapshot()
            for task_id in state.failed:
                self._guidance[task_id] = resumed.guidance
            state.failed = {}
            self._dag = DagScheduler.restore(
                self._plan.tasks, self._settings.max_parallel_tasks, state, effort_weight
            )
        self._sync()
