"""IssueWorkflow: one issue carried from intake to an open (or, if configured, merged) PR.

intake -> setup -> plan -> approval gate -> implement -> verify -> review -> PR -> monitor
Every side effect is an activity called by name (``domain.names``), so this module imports no
I/O code. The event history is the only checkpoint: a crashed worker resumes exactly here."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from domain import names
from domain.budget import BudgetPause, BudgetRaise
from domain.change import TestRun
from domain.forge import OpenPullRequestInput, PullRequestInfo
from domain.plan import Plan
from domain.review import GateResult, ReviewVerdict
from domain.run import (
    ApprovalDecision,
    IssueResult,
    IssueStatus,
    IssueWorkflowInput,
    LoopState,
    ResumeRequest,
)
from domain.task import CancelRequest, SkipTaskRequest
from domain.workspace import EnvironmentRef, RunTestsInput
from workflows import carry, errors, options, render, stage_gates
from workflows.agent import AGENT_LOOP
from workflows.approval import ApprovalGate, auto_approval
from workflows.calls import Activities
from workflows.errors import RunCancelled, StageFailed, failure_of, was_cancelled
from workflows.escalation import Escalation
from workflows.implement import TaskRunner
from workflows.intake import Intake, read_issue
from workflows.issue_changes import IssueChanges
from workflows.model_gateway import ModelGateway
from workflows.monitor import PullRequestWatch
from workflows.planning import PlanContext, draft_plan, explore
from workflows.progress import Progress
from workflows.resolution import fix_feedback, no_progress, review_feedback
from workflows.review import review_round
from workflows.setup import ENVIRONMENTS, prepare_environment

OUTCOME_CONTINUED = "outcome-continued"  # before it, closed runs kept Outcome "running"
CANCELLED_IN_A_CALL = "cancelled-in-a-call"  # before it, such a run was reported failed


@workflow.defn(name=names.ISSUE_WORKFLOW)
class IssueWorkflow:
    @workflow.init
    def __init__(self, input: IssueWorkflowInput) -> None:
        self.input = input
        status = IssueStatus()
        self.calls = Activities(lambda: self.progress.status.stage)
        self.progress = Progress(input.issue, status, self.calls, input.settings.runs_url)
        self.gateway = ModelGateway(input.model, on_pause=self._budget_paused)
        self._gate = ApprovalGate(
            input.settings, self.progress, lambda: self.escalation.cancelled(), self.calls
        )
        self._run: carry.RunContext | None = None
        self._loop = LoopState()
        self.escalation = Escalation(self.progress)
        self.changes = IssueChanges(input, self.calls, self.gateway, self.progress)
        self.stage_gates = stage_gates.StageGates(self)  # interactive mode: run.gates
        self.rounds = 0  # loop rounds in this run of the workflow (not carried: fresh history)
        if input.carried is not None:
            self._restore(input.carried)
        if input.model is not None:
            self.progress.status.model = self.gateway.status

    @workflow.run
    async def run(self, input: IssueWorkflowInput) -> IssueResult:
        workflow.upsert_search_attributes(
            [
                names.SA_REPO.value_set(input.issue.repo.full_name),
                names.SA_ISSUE.value_set(input.issue.number),
                names.SA_OUTCOME.value_set("running"),
            ]
        )
        try:
            if input.carried is not None and input.carried.loop.resume_at == "monitor":
                return await PullRequestWatch(self, self._context().workspace.branch).run(True)
            if input.carried is not None:
                test_run = await self._continued()
            else:
                intake = await self._intake()
                await self._setup(intake)
                plan = await self._plan_and_approve(intake)
                if plan is None:
                    return await self.progress.conclude("expired", [names.LABEL_IN_PROGRESS])
                self._run = carry.RunContext(intake.issue, intake.workspace, plan)
                await self._implement()
                await self.stage_gates.after_implement()
                test_run = await self.stage_gates.at("verify", await self._verify())
            verdict, gates, test_run = await self._review(test_run, input.carried is not None)
            test_run = await self.stage_gates.at("pull_request", test_run)
            return await self._pull_request(verdict, gates, test_run)
        except RunCancelled:
            return await self._end_cancelled()
        except (StageFailed, FailureError) as failure:
            if self._cancelled(failure):
                await self._end_cancelled()
                raise  # a cancelled call of a cancelled run: the run ends cancelled
            # However it failed, the issue says so before the run ends.
            stage, message = failure_of(failure, self.progress.status.stage)
            await self.progress.fail(stage, message)
            raise ApplicationError(f"stage {stage} failed: {message}", non_retryable=True) from None
        except asyncio.CancelledError:
            await self._end_cancelled()
            raise

    def _cancelled(self, failure: BaseException) -> bool:
        return was_cancelled(failure) and workflow.patched(CANCELLED_IN_A_CALL)

    async def _end_cancelled(self) -> IssueResult:
        self.progress.status.waiting_for = None
        labels = [names.LABEL_NEEDS_HUMAN, names.LABEL_IN_PROGRESS]
        return await self.progress.conclude("cancelled", labels, best_effort=True)

    # ----- stages ----------------------------------------------------------------------------

    async def _intake(self) -> Intake:
        async with self.progress.stage("intake", report=False):
            return await read_issue(self.calls, self.progress)

    async def _setup(self, intake: Intake) -> None:
        if not workflow.patched(ENVIRONMENTS):
            return
        async with self.progress.stage("setup"):
            self.progress.status.environment = await prepare_environment(
                self.calls, self.escalation, intake.workspace, self.input.repo_settings
            )

    async def _plan_and_approve(self, intake: Intake) -> Plan | None:
        """Plan, ask, and re-plan with the feedback of each rejection; None when it expired."""
        feedback: list[str] = list(self.input.review_feedback)  # a retry: what reviewers said
        status = self.progress.status
        self.changes.with_tools = workflow.patched(AGENT_LOOP)
        context = PlanContext()
        while True:
            if status.plan_version >= self.input.settings.max_plan_attempts:
                raise StageFailed("plan", f"{status.plan_version} plans were rejected; giving up")
            async with self.progress.stage("plan"):
                if self.changes.with_tools and not context.repo_map:
                    context = await explore(
                        self.calls, self.gateway, self.progress, self.input, intake
                    )
                    self.changes.repo_map = context.repo_map
                plan = await draft_plan(
                    self.gateway, self.progress, self.input, intake, feedback, context, self.calls
                )
            if plan is None:
                continue
            async with self.progress.stage("approval"):
                decision = await self._approval(status.plan_version)
            if decision is None:
                return None
            if decision.approved:
                return plan
            feedback.append(decision.feedback)
            workflow.logger.info("plan rejected", extra={"approver": decision.approver})

    async def _approval(self, version: int) -> ApprovalDecision | None:
        if self.input.settings.auto_approve:
            return auto_approval(self.progress, version)
        return await self._gate.wait(version)

    async def _implement(self) -> None:
        run = self._context()
        async with self.progress.stage("implement"):
            await TaskRunner(self, run.issue, run.plan, run.workspace).run()

    async def _verify(self, resumed: bool = False) -> TestRun:
        """The resolution loop; its counters live in ``self._loop`` to survive continue-as-new."""
        loop, settings = self._loop, self.input.settings
        if not resumed:
            loop.verify_runs_since_human, loop.verify_outputs, loop.guidance = 0, [], ""
        async with self.progress.stage("verify", enter=not resumed):
            while True:
                await self.maybe_continue_as_new("verify")
                self.rounds += 1
                test_run = await self._run_tests()
                loop.verify_runs_since_human += 1
                if test_run.passed:
                    return test_run
                loop.verify_outputs.append(test_run.output_tail)
                stuck = no_progress(loop.verify_outputs)
                if stuck or loop.verify_runs_since_human >= settings.max_verify_attempts:
                    reason = (
                        "The last fix changed nothing in the failing test output."
                        if stuck
                        else f"Tests still fail after {loop.verify_runs_since_human} attempts."
                    )
                    resume = await self.escalation.ask(reason, test_run.output_tail)
                    loop.verify_runs_since_human, loop.verify_outputs = 0, []
                    loop.guidance = resume.guidance if resume else ""
                await self.changes.make(
                    self._context(), "fix", fix_feedback(test_run.output_tail, loop.guidance)
                )

    async def _review(
        self, test_run: TestRun, resumed: bool
    ) -> tuple[ReviewVerdict, list[GateResult], TestRun]:
        """Gates, then the model's review; requested changes go back to implement and verify."""
        loop, run = self._loop, self._context()
        if not resumed:
            loop.review_rounds_since_human = 0
        while True:
            await self.maybe_continue_as_new("review", test_run)
            self.rounds += 1
            async with self.progress.stage("review"):
                loop.review_rounds_since_human += 1
                verdict, gates = await review_round(
                    self.calls, self.gateway, self.progress, run, test_run, self.input
                )
            if verdict.verdict == "approve":
                return verdict, gates, test_run
            feedback = review_feedback(verdict.requested_changes, verdict.summary)
            if loop.review_rounds_since_human >= self.input.settings.max_review_rounds:
                await self.escalation.ask(
                    f"Review still requests changes after {loop.review_rounds_since_human} rounds.",
                    "\n".join(verdict.requested_changes) or verdict.summary,
                )
                loop.review_rounds_since_human = 0
                continue
            async with self.progress.stage("implement"):
                await self.changes.make(self._context(), "review", feedback)
            test_run = await self._verify()

    async def _pull_request(
        self, verdict: ReviewVerdict, gates: list[GateResult], test_run: TestRun
    ) -> IssueResult:
        run, status = self._context(), self.progress.status
        async with self.progress.stage("pull_request"):
            pr = await self.calls.run(
                names.OPEN_PULL_REQUEST,
                OpenPullRequestInput(
                    repo=self.input.issue.repo,
                    head=run.workspace.branch,
                    base=run.workspace.base_branch,
                    title=f"{run.issue.title} (#{run.issue.number})",
                    body=render.pull_request_body(
                        self.input.issue, run.plan, test_run, verdict, gates, status
                    ),
                ),
                PullRequestInfo,
            )
            status.pr_url, status.pr_number = pr.html_url, pr.number
            await self.progress.labels(add=[names.LABEL_PR_OPEN], remove=[names.LABEL_IN_PROGRESS])
        return await PullRequestWatch(self, run.workspace.branch).after_opening()

    # ----- building blocks -------------------------------------------------------------------

    async def _run_tests(self) -> TestRun:
        """A test run; one that cannot finish (its retries spent on dead workers) asks a
        person, and a resume runs it again."""
        self.progress.bump("verify")
        repo = self.input.repo_settings
        while True:
            try:
                return await self.calls.run(
                    names.RUN_TESTS,
                    RunTestsInput(
                        workspace=self._context().workspace,
                        command=repo.test_command,
                        timeout_seconds=repo.test_timeout_seconds,
                        environment=self.environment,
                    ),
                    TestRun,
                    prefix="verify",
                    call=options.TEST_RUN.with_budget(
                        repo.test_timeout_seconds, repo.setup_timeout_seconds
                    ),
                    summary="run the repository's tests",
                )
            except ActivityError as err:
                if errors.permanent_message(err) is not None or self._cancelled(err):
                    raise
                await self.escalation.ask(
                    "The test run could not finish; resume to run it again.", errors.innermost(err)
                )

    @property
    def environment(self) -> EnvironmentRef | None:
        return self.progress.status.environment

    def touch(self, paths: list[str]) -> None:
        self.changes.touch(paths)

    def _context(self) -> carry.RunContext:
        assert self._run is not None, "the run context is set once the plan is approved"
        return self._run

    async def _budget_paused(self, pause: BudgetPause | None) -> None:
        if pause is not None:
            await self.progress.comment(f"budget:{pause.scope}", pause.message())
        await self.progress.waiting_for("budget" if pause is not None else None)

    # ----- continue-as-new -------------------------------------------------------------------

    async def _continued(self) -> TestRun:
        """A continued run: pick the verify or review loop up where the last run left it."""
        carried = self.input.carried
        assert carried is not None
        self.changes.with_tools = workflow.patched(AGENT_LOOP)
        stage = self.progress.status.stage
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(stage)])
        workflow.set_current_details(f"Stage: {stage} (continued)")
        if carried.loop.resume_at == "verify":
            return await self._verify(resumed=True)
        assert carried.test_run is not None, "a run continued at review carries its tests"
        return carried.test_run

    async def maybe_continue_as_new(
        self, at: carry.LoopStage, test_run: TestRun | None = None
    ) -> None:
        """At a loop boundary only (never mid-wait): hand the state to a fresh history."""
        if self.rounds == 0:
            return  # always make progress in a run
        if self.rounds < self.input.settings.max_loop_rounds_per_run and not (
            workflow.info().is_continue_as_new_suggested()
        ):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._loop.resume_at = at
        carried = carry.snapshot(
            self._context(),
            carry.Counters(
                self.changes.touched, self.changes.count, self.escalation.count, self.calls.count
            ),
            self.progress.status,
            self._loop,
            self.gateway.snapshot() if self.input.model is not None else None,
            test_run,
            self.escalation.cancel_request,
        )
        if workflow.patched(OUTCOME_CONTINUED):
            # This run ends here but the issue's run goes on: never "running" on a closed run.
            workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("continued")])
        workflow.logger.info("continuing as new after %d rounds at %s", self.rounds, at)
        workflow.continue_as_new(self.input.model_copy(update={"carried": carried}))

    def _restore(self, carried: carry.CarriedState) -> None:
        self.progress.status = carried.status.model_copy(deep=True)
        self._run = carry.RunContext(carried.issue, carried.workspace, carried.plan)
        self._loop = carried.loop.model_copy(deep=True)
        self.changes.touched = list(carried.touched)
        self.changes.count = carried.changes
        self.escalation.count = carried.escalations
        self.calls.count = carried.calls
        self.escalation.cancel_request = carried.cancel
        if carried.gateway is not None:
            self.gateway.restore(carried.gateway)

    # ----- handlers --------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> IssueStatus:
        return self.progress.status

    @workflow.update(name="approve")
    async def approve(self, decision: ApprovalDecision) -> str:
        return await self.stage_gates.offer(self._gate, decision, "update")

    @approve.validator
    def _check_decision(self, decision: ApprovalDecision) -> None:
        self.stage_gates.check(self._gate, decision)

    @workflow.update(name="raise_budget")
    def raise_budget(self, request: BudgetRaise) -> str:
        return self.gateway.raise_budget(request)

    @raise_budget.validator
    def _check_raise(self, request: BudgetRaise) -> None:
        self.gateway.check_raise(request)

    @workflow.signal(name="decide")
    async def decide(self, decision: ApprovalDecision) -> None:
        """The signal twin of ``approve`` for clients without Updates; a refusal is answered
        on the issue, since a signal cannot answer its sender."""
        try:
            self.stage_gates.check(self._gate, decision)
            await self.stage_gates.offer(self._gate, decision, "signal")
        except (ValueError, ApplicationError) as invalid:
            await self._gate.answer_refusal(decision, str(invalid))

    @workflow.signal(name="resume")
    def resume(self, request: ResumeRequest) -> None:
        self.escalation.resume(request)

    @workflow.signal(name="skip-task")
    def skip_task(self, request: SkipTaskRequest) -> None:
        self.escalation.skip(request)

    @workflow.signal(name="cancel")
    def cancel(self, request: CancelRequest) -> None:
        self.escalation.cancel(request)
