"""The implement stage: plan tasks as child TaskWorkflows on a dependency DAG.

A task starts as soon as its last dependency is integrated (up to ``max_parallel_tasks``,
longest remaining critical path first); a finished task is merged into the issue branch at once,
so dependents start from a branch that holds their dependencies' work. A failed task blocks
only its dependents; when nothing else can run, a person resumes, skips or cancels.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from domain import names
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask
from domain.run import IssueWorkflowInput
from domain.task import (
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
from domain.workspace import EnvironmentRef, WorkspaceRef, WorkspaceState
from workflows import options
from workflows.calls import Activities
from workflows.children import task_search_attributes
from workflows.dag import DagScheduler, effort_weight
from workflows.errors import RunCancelled, innermost, permanent_message
from workflows.escalation import Escalation
from workflows.issue_changes import IssueChanges
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress

# Children are asked to cancel, not terminated, when the issue run closes: a task then stops
# between activities and its own history says so. Its work is safe either way (apply_edits and
# integrate are idempotent), but a cancelled child leaves no half-reported activity behind.
TASK_PARENT_CLOSE_POLICY = workflow.ParentClosePolicy.REQUEST_CANCEL
DONE_STATES = ("merged", "already_merged", "nothing_to_merge")
# Runs started before conflict resolution went through the model gateway keep calling the
# activity directly (see "Changing workflows" in the README).
CONFLICTS_THROUGH_GATEWAY = "conflicts-through-gateway"


class TaskHost(Protocol):
    """What the implement stage needs from the issue run, and nothing more."""

    input: IssueWorkflowInput
    progress: Progress
    calls: Activities
    gateway: ModelGateway
    escalation: Escalation
    changes: IssueChanges

    @property
    def environment(self) -> EnvironmentRef | None: ...

    def touch(self, paths: list[str]) -> None: ...


class TaskRunner:
    def __init__(
        self, host: TaskHost, issue: IssueInfo, plan: Plan, workspace: WorkspaceRef
    ) -> None:
        self._host = host
        self._issue = issue
        self._plan = plan
        self._workspace = workspace
        self._tasks = {t.id: t for t in plan.tasks}
        self._settings = host.input.settings
        self._status = host.progress.status
        self._dag = DagScheduler(plan.tasks, self._settings.max_parallel_tasks, effort_weight)
        self._guidance: dict[str, str] = {}
        self._allowances: dict[str, float | None] = {}

    async def run(self) -> None:
        # Task branches start from the issue branch, so the forge must have it first.
        await self._host.calls.run(
            names.ENSURE_BRANCH, EnsureBranchInput(workspace=self._workspace), WorkspaceState
        )
        for task in self._plan.tasks:
            self._status.tasks.setdefault(task.id, TaskProgress())
        while True:
            await self._schedule()
            if not self._dag.failed_ids:
                return
            await self._ask_a_person()

    # ----- scheduling ------------------------------------------------------------------------

    async def _schedule(self) -> None:
        host = self._host
        running: dict[str, asyncio.Task[TaskResult]] = {}
        try:
            while True:
                for task_id in self._dag.next_to_start():
                    self._dag.started(task_id)
                    self._status.tasks[task_id].attempts += 1
                    running[task_id] = asyncio.create_task(self._child(self._tasks[task_id]))
                self._sync()
                if not running:
                    return
                await host.progress.report()
                await workflow.wait_condition(
                    lambda: host.escalation.cancelled() or any(t.done() for t in running.values())
                )
                if host.escalation.cancelled():
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
        host = self._host
        repo = host.input.repo_settings
        child_id = task_workflow_id(host.input.issue.workflow_id, task.id)
        workspace = self._workspace.model_copy(
            update={
                "base_branch": self._workspace.branch,
                "branch": task_branch(self._workspace.branch, task.id),
                "key": child_id,
            }
        )
        # The task's model budget is carved out of the issue's before it starts.
        allowance = await host.gateway.task_allowance(task.id)
        self._allowances[task.id] = allowance
        await host.calls.mode.before_new_run()  # no new task while the mode holds the run
        return await workflow.execute_child_workflow(
            names.TASK_WORKFLOW,
            TaskWorkflowInput(
                issue=self._issue,
                plan=self._plan,
                task=task,
                workspace=workspace,
                attempt=self._status.tasks[task.id].attempts,
                guidance=self._guidance.get(task.id, ""),
                test_command=repo.test_command,
                test_timeout_seconds=repo.test_timeout_seconds,
                max_test_attempts=self._settings.task_test_attempts,
                model=host.gateway.settings_for_task(allowance),
                environment=host.environment,
                limits=self._settings.implement,
                repo_map=host.changes.repo_map,
                lessons=self._status.lessons.get("implement", []),
                issue_ref=host.input.issue,
            ),
            id=child_id,
            result_type=TaskResult,
            parent_close_policy=TASK_PARENT_CLOSE_POLICY,
            search_attributes=task_search_attributes(host.input.issue),
            static_summary=f"task {task.id}: {task.title}",
            memo=workflow.memo() or None,  # its activity queues (domain.capacity)
        )

    async def _finish(self, task_id: str, child: asyncio.Task[TaskResult]) -> None:
        gateway = self._host.gateway
        allowance = self._allowances.pop(task_id, None)
        try:
            result = child.result()
        except ChildWorkflowError as err:
            # What a failed task spent, from its error; unknown (an older task): its allowance.
            gateway.task_failed(task_id, allowance, err.cause)
            self._fail(task_id, getattr(err.cause, "message", None) or str(err))
            return
        gateway.task_finished(task_id, allowance, result.model)
        self._host.progress.add_usage(result.usage)
        for number, loop in enumerate(result.loops):
            name = f"task {task_id}" + (f" {loop.purpose} {number}" if number else "")
            self._status.loops[name] = loop
        problem = await self._integrate(self._tasks[task_id], result)
        if problem:
            self._fail(task_id, problem)
            return
        self._dag.completed(task_id)
        self._status.tasks[task_id].head_sha = result.head_sha
        self._host.touch(result.files)
        self._sync()

    def _fail(self, task_id: str, message: str) -> None:
        self._dag.failed(task_id, f"{task_id} failed: {message}")
        self._sync()

    def _sync(self) -> None:
        """The status query's view of every task, from the scheduler."""
        dag = self._dag
        failures, blocked = dag.failures, dag.blocked
        for task_id, progress in self._status.tasks.items():
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
        request = IntegrateInput(
            workspace=self._workspace,
            task_id=task.id,
            task_branch=result.branch,
            environment=self._host.environment,
        )
        try:
            merged = await self._integrate_call(request)
            if merged.status in DONE_STATES:
                return None
            conflicts, feedback = merged.conflicts, ""
            repo = self._host.input.repo_settings
            for _ in range(self._settings.max_conflict_attempts):
                self._host.progress.bump("conflict")
                resolved = await self._resolve(task, conflicts, feedback)
                self._host.progress.add_usage(resolved.usage)
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
        except ActivityError as err:
            # Refused, or its retries spent: the task fails and the run asks a person.
            return permanent_message(err) or f"integrating failed: {innermost(err)}"
        return (
            f"merging into {self._workspace.branch} conflicts in {', '.join(sorted(conflicts))}; "
            f"{self._settings.max_conflict_attempts} resolution(s) did not pass the tests"
        )

    async def _resolve(
        self, task: PlanTask, conflicts: dict[str, str], feedback: str
    ) -> ResolveConflictOutput:
        request = ResolveConflictInput(
            issue=self._issue, plan=self._plan, task=task, conflicts=conflicts, feedback=feedback
        )
        if workflow.patched(CONFLICTS_THROUGH_GATEWAY):
            return await self._host.gateway.call(
                names.RESOLVE_CONFLICT, request, ResolveConflictOutput, stage="conflict", task=task
            )
        return await self._host.calls.run(names.RESOLVE_CONFLICT, request, ResolveConflictOutput)

    async def _integrate_call(self, request: IntegrateInput) -> IntegrateResult:
        # A resolution is tested inside the call: the test budget, heartbeats, git's retries.
        setup = self._host.input.repo_settings.setup_timeout_seconds
        budget = options.INTEGRATE.with_budget(request.test_timeout_seconds, setup)
        return await self._host.calls.run(names.INTEGRATE, request, IntegrateResult, call=budget)

    # ----- a person decides ------------------------------------------------------------------

    async def _ask_a_person(self) -> None:
        dag = self._dag
        failures = dag.failures
        reason = f"{len(failures)} task(s) failed: {', '.join(failures)}."
        lines = [*failures.values()]
        lines += [f"{t} is blocked ({cause})" for t, cause in dag.blocked.items()]
        done = list(dag.completed_ids)
        lines.append(f"completed and integrated: {', '.join(done) if done else 'none'}")
        resumed = await self._host.escalation.ask(reason, "\n".join(lines), tasks_failed=True)
        for task_id in dict.fromkeys(self._host.escalation.take_skips()):
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
