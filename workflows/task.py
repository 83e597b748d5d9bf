"""TaskWorkflow: one plan task on its own branch, started by the IssueWorkflow as a child.

read files -> draft edits -> apply (commit + push the task branch) [-> tests -> fixes]

The branch starts from the issue branch as it is when the task starts, so it holds the
integrated work of every dependency. Integration back into the issue branch is the parent's job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.budget import BudgetPause, BudgetRaise
    from domain.change import CommitInfo, TestRun
    from domain.model import DraftEditsInput, DraftEditsOutput
    from domain.task import TASK_WORKFLOW, TaskResult, TaskWorkflowInput
    from domain.usage import TokenUsage
    from domain.workspace import ApplyEditsInput, FileContents, ReadFilesInput, RunTestsInput
    from workflows import options, recovery
    from workflows.model_gateway import ModelGateway

T = TypeVar("T")

# A task's test run heartbeats every few seconds; a worker that dies mid-run is noticed after
# this long and the run is retried elsewhere (the checkout is rebuilt from the forge).
TASK_TEST_HEARTBEAT = timedelta(seconds=10)
TASK_TEST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=options.PERMANENT_ERRORS,
)


@workflow.defn(name=TASK_WORKFLOW)
class TaskWorkflow:
    @workflow.init
    def __init__(self, input: TaskWorkflowInput) -> None:
        self._calls = 0
        self._usage = TokenUsage()
        self._gateway = ModelGateway(input.model, on_pause=self._budget_paused)
        self._paused: BudgetPause | None = None

    @workflow.run
    async def run(self, input: TaskWorkflowInput) -> TaskResult:
        try:
            return await self._carry(input)
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise  # the issue run was cancelled: this task is cancelled, not failed
            cause = err.cause
            kind = recovery.classify_error(
                getattr(cause, "type", None), options.PERMANENT_ERRORS, in_task=True
            )
            message = getattr(cause, "message", None) or str(err)
            # The parent reads the type to follow the recovery table.
            raise ApplicationError(
                f"task {input.task.id}: {message}", type=kind, non_retryable=True
            ) from None

    async def _carry(self, input: TaskWorkflowInput) -> TaskResult:
        commits: list[str] = []
        files: list[str] = []
        commit = await self._change(input, "task", input.guidance, input.task.files)
        if commit.changed:
            commits.append(commit.sha)
            files.extend(commit.files)
        head = commit.sha
        test_run = None
        if input.test_command and input.max_test_attempts > 0:
            outputs: list[str] = []
            while True:
                test_run = await self._run_tests(input)
                if test_run.passed:
                    break
                outputs.append(test_run.output_tail)
                no_progress = recovery.classify_test_runs(outputs) == "no_progress"
                if no_progress or len(outputs) >= input.max_test_attempts:
                    break  # the issue-level verify loop takes over from here
                fixed = await self._change(
                    input,
                    "fix",
                    f"The tests fail. Output:\n{test_run.output_tail}",
                    [*input.task.files, *files],
                )
                if fixed.changed:
                    commits.append(fixed.sha)
                    files.extend(p for p in fixed.files if p not in files)
                    head = fixed.sha
        return TaskResult(
            task_id=input.task.id,
            branch=input.workspace.branch,
            head_sha=head,
            commits=commits,
            files=files,
            usage=self._usage,
            test_run=test_run,
            model=self._gateway.status if input.model is not None else None,
        )

    async def _change(
        self, input: TaskWorkflowInput, purpose: str, feedback: str, scope: list[str]
    ) -> CommitInfo:
        contents = await self._call(
            names.READ_FILES,
            ReadFilesInput(workspace=input.workspace, paths=list(dict.fromkeys(scope))),
            FileContents,
            options.GIT,
        )
        drafted = await self._gateway.call(
            names.DRAFT_EDITS,
            DraftEditsInput(
                purpose=purpose,  # type: ignore[arg-type]
                issue=input.issue,
                plan=input.plan,
                task=input.task,
                files=contents.files,
                feedback=feedback,
            ),
            DraftEditsOutput,
            stage="fix" if purpose == "fix" else "edits",
            task=input.task,
        )
        self._usage = self._usage + drafted.usage
        # Stable across retries of this call, distinct for every change and every attempt.
        change_id = f"{workflow.info().run_id[:8]}:{input.task.id}:{self._calls}:{purpose}"
        return await self._call(
            names.APPLY_EDITS,
            ApplyEditsInput(workspace=input.workspace, edits=drafted.edits, change_id=change_id),
            CommitInfo,
            options.GIT,
        )

    async def _run_tests(self, input: TaskWorkflowInput) -> TestRun:
        self._calls += 1
        assert input.test_command is not None
        return await workflow.execute_activity(
            names.RUN_TESTS,
            RunTestsInput(
                workspace=input.workspace,
                command=input.test_command,
                timeout_seconds=input.test_timeout_seconds,
            ),
            result_type=TestRun,
            start_to_close_timeout=timedelta(seconds=input.test_timeout_seconds)
            + options.TEST_RUN_SLACK,
            heartbeat_timeout=TASK_TEST_HEARTBEAT,
            retry_policy=TASK_TEST_RETRY,
            activity_id=f"task-tests-{self._calls}",
            summary=f"run the tests on task {input.task.id}'s branch",
        )

    async def _call(
        self, activity: str, arg: Any, result_type: type[T], opts: options.CallOptions
    ) -> T:
        self._calls += 1
        result: T = await opts.execute(activity, arg, result_type, f"task-{self._calls}")
        return result

    async def _budget_paused(self, pause: BudgetPause | None) -> None:
        # The parent's status shows the task as running; this task's own status says why.
        self._paused = pause

    @workflow.query(name="budget_pause")
    def budget_pause(self) -> BudgetPause | None:
        return self._paused

    @workflow.update(name="raise_budget")
    def raise_budget(self, request: BudgetRaise) -> str:
        return self._gateway.raise_budget(request)

    @raise_budget.validator
    def _check_raise(self, request: BudgetRaise) -> None:
        self._gateway.check_raise(request)
