"""TaskWorkflow: one plan task on its own branch, started by the IssueWorkflow as a child.

the implementer's loop on the task [-> tests -> a fixing loop, bounded]

The branch starts from the issue branch as it is when the task starts, so it holds the
integrated work of every dependency. Integration back into the issue branch is the parent's job.
A long loop continues as new at a turn boundary and resumes at the same turn.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from domain import names
from domain.agent import ALL_TOOLS, AgentBrief, AgentPurpose, AgentState, AgentSummary
from domain.budget import GATEWAY_DETAIL, BudgetPause, BudgetRaise
from domain.change import CommitInfo, TestRun
from domain.forge import CommentRef, UpsertCommentInput
from domain.model import EditPurpose
from domain.task import EnsureBranchInput, TaskCarried, TaskResult, TaskWorkflowInput
from domain.usage import TokenUsage
from domain.workspace import DEFAULT_SETUP_TIMEOUT_SECONDS, RunTestsInput, WorkspaceState
from workflows import options, render
from workflows.agent import AGENT_LOOP, AgentLoop, Loop
from workflows.calls import Activities
from workflows.candidates import best_of
from workflows.change import ChangeRequest, make_change
from workflows.model_gateway import ModelGateway
from workflows.resolution import fix_feedback, no_progress


class NothingChanged(Exception):
    """The model ended the task without changing a file."""


@workflow.defn(name=names.TASK_WORKFLOW)
class TaskWorkflow:
    @workflow.init
    def __init__(self, input: TaskWorkflowInput) -> None:
        self._input = input
        carried = input.carried
        self._calls = Activities(lambda: "task", carried.calls if carried else 0)
        self._usage = carried.usage if carried else TokenUsage()
        self._gateway = ModelGateway(input.model, on_pause=self._budget_paused)
        if carried is not None and carried.gateway is not None:
            self._gateway.restore(carried.gateway)
        self._paused: BudgetPause | None = None
        self._loops: list[AgentSummary] = list(carried.loops) if carried else []
        self._commits: list[str] = list(carried.commits) if carried else []
        self._files: list[str] = list(carried.files) if carried else []

    @workflow.run
    async def run(self, input: TaskWorkflowInput) -> TaskResult:
        try:
            if workflow.patched(AGENT_LOOP):
                if input.limits.candidates > 1:
                    return await best_of(input, self._calls)
                head, test_run = await self._with_tools(input)
            else:
                head, test_run = await self._with_whole_files(input)
        except (ActivityError, NothingChanged) as err:
            message = str(err)
            if isinstance(err, ActivityError):
                if is_cancelled_exception(err):
                    raise  # the issue run was cancelled: this task is cancelled, not failed
                message = getattr(err.cause, "message", None) or message
            # The parent counts what this task's model calls cost from the details.
            books = self._gateway.snapshot().model_dump(mode="json") if input.model else None
            raise ApplicationError(
                f"task {input.task.id}: {message}",
                *([{GATEWAY_DETAIL: books}] if books is not None else []),
                type=names.ERR_TASK_FAILED,
                non_retryable=True,
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
            loops=self._loops,
        )

    # ----- the implementer's loop ------------------------------------------------------------

    async def _with_tools(self, input: TaskWorkflowInput) -> tuple[str, TestRun | None]:
        carried = input.carried
        outputs = list(carried.test_outputs) if carried else []
        if carried is None:
            # Publish the branch at the issue branch's tip now: turns that only read must not
            # let it start later from a tip holding other tasks' work.
            await self._calls.run(
                names.ENSURE_BRANCH, EnsureBranchInput(workspace=input.workspace), WorkspaceState
            )
        if carried is None or carried.purpose == "task":
            await self._loop("task", input.guidance, carried.state if carried else None)
            if not self._commits:
                raise NothingChanged("the model finished without changing any file")
        else:
            await self._loop("fix", carried.feedback, carried.state, outputs)
        if not (input.test_command and input.max_test_attempts > 0):
            return self._commits[-1], None
        while True:
            test_run = await self._run_tests()
            if test_run.passed:
                return self._commits[-1], test_run
            outputs.append(test_run.output_tail)
            if no_progress(outputs) or len(outputs) >= input.max_test_attempts:
                return self._commits[-1], test_run  # the issue's verify loop takes over
            await self._loop("fix", fix_feedback(test_run.output_tail, ""), None, outputs)

    async def _loop(
        self,
        purpose: AgentPurpose,
        feedback: str,
        state: AgentState | None,
        outputs: list[str] | None = None,
    ) -> None:
        """One loop to its end, continuing as new every ``turns_per_run`` turns."""
        input = self._input
        number = len(self._loops) + 1
        first_run = workflow.info().first_execution_run_id[:8]
        agent = AgentLoop(
            self._calls,
            self._gateway,
            self._account,
            Loop(
                brief=AgentBrief(
                    purpose=purpose,
                    issue=input.issue,
                    plan=input.plan,
                    task=input.task,
                    feedback=feedback,
                    repo_map=input.repo_map,
                    test_command=input.test_command or "",
                    lessons=input.lessons,
                ),
                workspace=input.workspace,
                environment=input.environment,
                tools=ALL_TOOLS,
                task=input.task,
                stage="fix" if purpose == "fix" else "edits",
                change_prefix=f"{first_run}:{input.task.id}:{purpose}-{number}",
                limits=input.limits,
            ),
            state,
        )
        while True:
            await agent.run(turns=input.limits.turns_per_run)
            if agent.state.finished or agent.out_of_turns():
                break
            await self._continue_as_new(purpose, feedback, agent.state, outputs or [])
        self._loops.append(AgentSummary.of(purpose, agent.state))
        self._commits.extend(agent.state.commits)
        self._files.extend(p for p in agent.state.files if p not in self._files)

    async def _continue_as_new(
        self, purpose: AgentPurpose, feedback: str, state: AgentState, outputs: list[str]
    ) -> None:
        await self._calls.mode.before_new_run()  # the next run would not know the mode
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = TaskCarried(
            purpose=purpose,
            feedback=feedback,
            state=state,
            loops=self._loops,
            commits=self._commits,
            files=self._files,
            test_outputs=outputs,
            usage=self._usage,
            gateway=self._gateway.snapshot() if self._input.model is not None else None,
            calls=self._calls.count,
        )
        workflow.logger.info("task continues as new at turn %d", state.turn)
        workflow.continue_as_new(self._input.model_copy(update={"carried": carried}))

    # ----- runs started before the loop: whole-file edits -------------------------------------

    async def _with_whole_files(self, input: TaskWorkflowInput) -> tuple[str, TestRun | None]:
        head = (await self._change("task", input.guidance, input.task.files)).sha
        if not (input.test_command and input.max_test_attempts > 0):
            return head, None
        outputs: list[str] = []
        while True:
            test_run = await self._run_tests()
            if test_run.passed:
                return head, test_run
            outputs.append(test_run.output_tail)
            if no_progress(outputs) or len(outputs) >= input.max_test_attempts:
                return head, test_run
            feedback = fix_feedback(test_run.output_tail, guidance="")
            fixed = await self._change("fix", feedback, [*input.task.files, *self._files])
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

    # ----- shared ------------------------------------------------------------------------------

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
                environment=env,
            ),
            TestRun,
            prefix="task-tests",
            call=options.TASK_TEST_RUN.with_budget(input.test_timeout_seconds, setup),
            summary=f"run the tests on task {input.task.id}'s branch",
        )

    async def _budget_paused(self, pause: BudgetPause | None) -> None:
        """The parent's status shows the task as running: the task itself says why it waits,
        and how to go on, on the issue (tasks started before ``issue_ref`` existed cannot)."""
        self._paused = pause
        issue, task = self._input.issue_ref, self._input.task
        if issue is None:
            return
        body = pause.message() if pause is not None else render.task_budget_raised(task.id)
        await self._calls.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=issue, marker=f"budget:task:{task.id}", body=body),
            CommentRef,
            prefix="task-budget",
            summary=f"say on the issue that task {task.id} waits for budget",
        )

    @workflow.query(name="budget_pause")
    def budget_pause(self) -> BudgetPause | None:
        return self._paused

    @workflow.update(name="raise_budget")
    def raise_budget(self, request: BudgetRaise) -> str:
        return self._gateway.raise_budget(request)

    @raise_budget.validator
    def _check_raise(self, request: BudgetRaise) -> None:
        self._gateway.check_raise(request)
