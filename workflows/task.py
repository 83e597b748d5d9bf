"""TaskWorkflow: one plan task on its own branch, started by the IssueWorkflow as a child.

change (read files -> draft edits -> apply: commit + push the task branch) [-> tests -> fixes]

The branch starts from the issue branch as it is when the task starts, so it holds the
integrated work of every dependency. Integration back into the issue branch is the parent's job.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from domain import names
from domain.budget import BudgetPause, BudgetRaise
from domain.change import CommitInfo, TestRun
from domain.model import EditPurpose
from domain.task import TaskResult, TaskWorkflowInput
from domain.usage import TokenUsage
from domain.workspace import DEFAULT_SETUP_TIMEOUT_SECONDS, RunTestsInput
from workflows import options
from workflows.calls import Activities
from workflows.change import ChangeRequest, make_change
from workflows.model_gateway import ModelGateway
from workflows.resolution import fix_feedback, no_progress


@workflow.defn(name=names.TASK_WORKFLOW)
class TaskWorkflow:
    @workflow.init
    def __init__(self, input: TaskWorkflowInput) -> None:
        self._input = input
        self._calls = Activities(lambda: "task")
        self._usage = TokenUsage()
        self._gateway = ModelGateway(input.model, on_pause=self._budget_paused)
        self._paused: BudgetPause | None = None
        self._commits: list[str] = []
        self._files: list[str] = []

    @workflow.run
    async def run(self, input: TaskWorkflowInput) -> TaskResult:
        try:
            head = (await self._change("task", input.guidance, input.task.files)).sha
            test_run = None
            if input.test_command and input.max_test_attempts > 0:
                test_run, head = await self._test_and_fix(head)
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise  # the issue run was cancelled: this task is cancelled, not failed
            message = getattr(err.cause, "message", None) or str(err)
            raise ApplicationError(
                f"task {input.task.id}: {message}", type=names.ERR_TASK_FAILED, non_retryable=True
            ) from None
        return TaskResult(
            task_id=input.task.id,
            branch=input.workspace.branch,
            head_sha=head,
            commits=self._commits,
            files=self._files,
            usage=self._usage,
            test_run=test_run,
            model=self._gateway.status if input.model is not None else None,
        )

    async def _test_and_fix(self, head: str) -> tuple[TestRun, str]:
        """Test the branch and fix, bounded; the issue-level verify loop takes over after."""
        outputs: list[str] = []
        while True:
            test_run = await self._run_tests()
            if test_run.passed:
                return test_run, head
            outputs.append(test_run.output_tail)
            if no_progress(outputs) or len(outputs) >= self._input.max_test_attempts:
                return test_run, head
            feedback = fix_feedback(test_run.output_tail, guidance="")
            fixed = await self._change("fix", feedback, [*self._input.task.files, *self._files])
            if fixed.changed:
                head = fixed.sha

    async def _change(self, purpose: EditPurpose, feedback: str, scope: list[str]) -> CommitInfo:
        """One change on the task branch (no commit when the edits change nothing)."""
        input = self._input
        # Stable across retries of this call, distinct for every change and every attempt.
        change_id = f"{workflow.info().run_id[:8]}:{input.task.id}:{self._calls.count + 1}"
        commit = await make_change(
            self._calls,
            self._gateway,
            ChangeRequest(
                work=input,
                purpose=purpose,
                feedback=feedback,
                scope=scope,
                change_id=f"{change_id}:{purpose}",
            ),
            self._account,
        )
        if commit.changed:
            self._commits.append(commit.sha)
            self._files.extend(p for p in commit.files if p not in self._files)
        return commit

    def _account(self, usage: TokenUsage) -> None:
        self._usage = self._usage + usage

    async def _run_tests(self) -> TestRun:
        input = self._input
        assert input.test_command is not None
        # An environment missing on this worker, or stale, is built inside the test run.
        env = input.environment
        setup = env.timeout_seconds if env is not None else DEFAULT_SETUP_TIMEOUT_SECONDS
        return await self._calls.run(
            names.RUN_TESTS,
            RunTestsInput(
                workspace=input.workspace,
                command=input.test_command,
                timeout_seconds=input.test_timeout_seconds,
                environment=input.environment,
            ),
            TestRun,
            prefix="task-tests",
            call=options.TASK_TEST_RUN.with_budget(input.test_timeout_seconds, setup),
            summary=f"run the tests on task {input.task.id}'s branch",
        )

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
