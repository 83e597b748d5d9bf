"""IssueWorkflow: one issue carried from intake to an open pull request.

intake -> plan -> approval gate -> implement -> verify -> review -> pull request

implement runs every plan task as a child ``TaskWorkflow`` on its own branch, as soon as its
dependencies are integrated (``workflows.dag``), and merges finished tasks into the issue branch.

Every side effect is an activity called by name (see ``domain.names``), so this module imports
no I/O code. The event history is the only checkpoint: a crashed worker resumes exactly here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.budget import BudgetPause, BudgetRaise
    from domain.change import CommitInfo, DiffSummary, TestRun
    from domain.forge import (
        CommentRef,
        EnsureLabelsInput,
        GetIssueInput,
        GetRepoInput,
        LabelSpec,
        OpenPullRequestInput,
        PullRequestInfo,
        SetIssueLabelsInput,
        UpsertCommentInput,
    )
    from domain.issue import IssueInfo, RepoInfo
    from domain.model import (
        DraftEditsInput,
        DraftEditsOutput,
        DraftPlanInput,
        DraftPlanOutput,
        ReviewChangeInput,
        ReviewChangeOutput,
    )
    from domain.plan import LENIENT_GRAPH, Plan, PlanTask
    from domain.review import GateResult, ReviewVerdict
    from domain.run import (
        ApprovalDecision,
        CarriedState,
        IssueResult,
        IssueStatus,
        IssueWorkflowInput,
        LoopStage,
        LoopState,
        Outcome,
        ResumeRequest,
        Stage,
        StageTiming,
    )
    from domain.task import CancelRequest, SkipTaskRequest
    from domain.tiers import estimate_plan_cost
    from domain.usage import TokenUsage
    from domain.workspace import (
        ApplyEditsInput,
        DiffSummaryInput,
        FileContents,
        PrepareWorkspaceInput,
        ReadFilesInput,
        RunTestsInput,
        WorkspaceRef,
        WorkspaceState,
    )
    from workflows import options, recovery, render
    from workflows.dag import validate_dag
    from workflows.gates import review_gates
    from workflows.implement import TaskRunner
    from workflows.model_gateway import ModelGateway

T = TypeVar("T")

LABELS = [
    LabelSpec(name=names.LABEL_IN_PROGRESS, color="1d76db", description="Autopilot is working"),
    LabelSpec(name=names.LABEL_NEEDS_HUMAN, color="d93f0b", description="Autopilot needs a human"),
    LabelSpec(name=names.LABEL_PR_OPEN, color="0e8a16", description="Autopilot opened a PR"),
    LabelSpec(name=names.LABEL_FAILED, color="b60205", description="Autopilot stopped"),
]
MAX_REPO_FILES_IN_PROMPT = 500


class StageFailed(Exception):
    """A stage cannot go on; the run ends with a comment saying why."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


class RunCancelled(Exception):
    """A person sent ``cancel``: running tasks are cancelled and the run ends as cancelled."""


@workflow.defn(name="IssueWorkflow")
class IssueWorkflow:
    @workflow.init
    def __init__(self, input: IssueWorkflowInput) -> None:
        self._input = input
        self._status = IssueStatus()
        self._decision: ApprovalDecision | None = None
        self._resume: ResumeRequest | None = None
        self._skips: list[str] = []
        self._cancel: CancelRequest | None = None
        self._escalations = 0
        self._touched: list[str] = []
        self._changes = 0
        self._calls = 0
        self._gateway = ModelGateway(input.model, on_pause=self._budget_paused)
        self._loop = LoopState()
        # Verify and review rounds in this run of the workflow (not carried: a fresh history).
        self._rounds = 0
        if input.carried is not None:
            self._restore(input.carried)
        if input.model is not None:
            self._status.model = self._gateway.status

    # ----- run -------------------------------------------------------------------------------

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
            if input.carried is not None:
                return await self._carry_on(input.carried)
            return await self._carry()
        except RunCancelled:
            self._status.waiting_for = None
            await self._labels(remove=[names.LABEL_NEEDS_HUMAN])
            return await self._conclude("cancelled", remove=[names.LABEL_IN_PROGRESS])
        except StageFailed as failure:
            await self._finish_failed(failure.stage, failure.message)
            raise ApplicationError(
                f"stage {failure.stage} failed: {failure.message}", non_retryable=True
            ) from None
        except asyncio.CancelledError:
            self._status.waiting_for = None
            await self._conclude("cancelled", remove=[names.LABEL_IN_PROGRESS])
            raise

    async def _carry(self) -> IssueResult:
        issue, repo = await self._intake()
        workspace = WorkspaceRef(
            repo=self._input.issue.repo,
            clone_url=repo.clone_url,
            base_branch=repo.default_branch,
            branch=self._input.issue.branch,
            key=self._input.issue.workflow_id,
        )
        state = await self._call(
            names.PREPARE_WORKSPACE,
            PrepareWorkspaceInput(workspace=workspace),
            WorkspaceState,
            options.GIT,
            stage="intake",
        )
        self._end_stage()

        plan = await self._plan_until_approved(issue, state.files)
        if plan is None:
            return await self._conclude("expired", remove=[names.LABEL_IN_PROGRESS])

        await self._enter("implement")
        await TaskRunner(self, issue, plan, workspace).run()
        self._end_stage()

        test_run = await self._verify(issue, plan, workspace)
        return await self._review_and_open(issue, plan, workspace, test_run)

    async def _carry_on(self, carried: CarriedState) -> IssueResult:
        """A continued run: pick the verify or review loop up where the last run left it."""
        issue, plan, workspace = carried.issue, carried.plan, carried.workspace
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(self._status.stage)])
        workflow.set_current_details(f"Stage: {self._status.stage} (continued)")
        if carried.loop.resume_at == "verify":
            test_run = await self._verify(issue, plan, workspace, resumed=True)
        else:
            assert carried.test_run is not None, "a run continued at review carries its tests"
            test_run = carried.test_run
        # Resumed either way: a run continued inside review's own verify keeps review's count.
        return await self._review_and_open(issue, plan, workspace, test_run, resumed=True)

    async def _review_and_open(
        self,
        issue: IssueInfo,
        plan: Plan,
        workspace: WorkspaceRef,
        test_run: TestRun,
        resumed: bool = False,
    ) -> IssueResult:
        verdict, gates, test_run = await self._review(issue, plan, workspace, test_run, resumed)

        await self._enter("pull_request")
        pr = await self._call(
            names.OPEN_PULL_REQUEST,
            OpenPullRequestInput(
                repo=self._input.issue.repo,
                head=workspace.branch,
                base=workspace.base_branch,
                title=f"{issue.title} (#{issue.number})",
                body=render.pull_request_body(
                    self._input.issue, plan, test_run, verdict, gates, self._status
                ),
            ),
            PullRequestInfo,
            options.FORGE,
        )
        self._status.pr_url = pr.html_url
        self._status.pr_number = pr.number
        await self._labels(add=[names.LABEL_PR_OPEN], remove=[names.LABEL_IN_PROGRESS])
        self._end_stage()
        return await self._conclude("pr_opened")

    # ----- stages ----------------------------------------------------------------------------

    async def _intake(self) -> tuple[IssueInfo, RepoInfo]:
        await self._enter("intake", report=False)
        ref = self._input.issue
        issue = await self._call(
            names.GET_ISSUE, GetIssueInput(issue=ref), IssueInfo, options.FORGE
        )
        repo = await self._call(
            names.GET_REPO, GetRepoInput(repo=ref.repo), RepoInfo, options.FORGE
        )
        if repo.archived:
            raise StageFailed("intake", f"{repo.full_name} is archived; nothing can be pushed")
        await self._call(
            names.ENSURE_LABELS,
            EnsureLabelsInput(repo=ref.repo, labels=LABELS),
            None,
            options.FORGE,
        )
        await self._labels(
            add=[names.LABEL_IN_PROGRESS],
            remove=[names.LABEL_FAILED, names.LABEL_NEEDS_HUMAN, names.LABEL_PR_OPEN],
        )
        await self._report()
        return issue, repo

    async def _plan_until_approved(self, issue: IssueInfo, files: list[str]) -> Plan | None:
        feedback: list[str] = []
        settings = self._input.settings
        while True:
            if self._status.plan_version >= settings.max_plan_attempts:
                raise StageFailed(
                    "plan", f"{self._status.plan_version} plans were rejected; giving up"
                )
            await self._enter("plan")
            raw = await self._ask(
                names.DRAFT_PLAN,
                DraftPlanInput(
                    issue=issue, repo_files=files[:MAX_REPO_FILES_IN_PROMPT], feedback=feedback
                ),
                dict,
                stage="plan",
            )
            # Decoded leniently so that a broken task graph becomes planner feedback, not a
            # workflow task that fails on decoding forever.
            drafted = DraftPlanOutput.model_validate(raw, context=LENIENT_GRAPH)
            self._add_usage(drafted.usage)
            self._status.plan_version += 1
            self._status.attempts["plan"] = self._status.plan_version
            version = self._status.plan_version
            problems = validate_dag(drafted.plan.tasks)
            if problems:
                assert recovery.strategy_for("invalid_plan") == "replan"
                feedback.append(
                    "The task graph is not a DAG: " + "; ".join(p.message for p in problems)
                )
                workflow.logger.info("plan %d has an invalid task graph", version)
                self._end_stage()
                continue
            await self._comment(
                f"plan:{version}",
                render.plan_comment(
                    drafted.plan,
                    version,
                    self._input.issue,
                    settings.auto_approve,
                    estimate_plan_cost(drafted.plan, self._input.model.routing).markdown()
                    if self._input.model is not None
                    else None,
                ),
            )
            self._end_stage()

            await self._enter("approval")
            if settings.auto_approve:
                decision: ApprovalDecision | None = ApprovalDecision(
                    approver="auto-approve", approved=True
                )
            else:
                decision = await self._await_approval(version)
            self._end_stage()
            if decision is None:
                return None
            if decision.approved:
                return drafted.plan
            feedback.append(decision.feedback)
            workflow.logger.info(
                "plan rejected", extra={"stage": "approval", "approver": decision.approver}
            )

    async def _await_approval(self, version: int) -> ApprovalDecision | None:
        settings = self._input.settings
        self._status.waiting_for = "approval"
        await self._report()
        waited = 0
        reminders = 0
        while waited < settings.approval_expiry_seconds:
            step = min(
                settings.approval_reminder_seconds, settings.approval_expiry_seconds - waited
            )
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None, timeout=timedelta(seconds=step)
                )
            except TimeoutError:
                waited += step
                if waited < settings.approval_expiry_seconds:
                    reminders += 1
                    await self._comment(
                        f"reminder:{version}:{reminders}",
                        render.reminder_comment(
                            version, waited, settings.approval_expiry_seconds - waited
                        ),
                    )
                continue
            decision, self._decision = self._decision, None
            self._status.waiting_for = None
            return decision
        self._status.waiting_for = None
        return None

    async def _verify(
        self, issue: IssueInfo, plan: Plan, workspace: WorkspaceRef, resumed: bool = False
    ) -> TestRun:
        """The resolution loop; its counters live in ``self._loop`` to survive continue-as-new."""
        settings = self._input.settings
        loop = self._loop
        if not resumed:
            await self._enter("verify")
            loop.verify_runs_since_human = 0
            loop.verify_outputs = []
            loop.guidance = ""
        while True:
            await self._maybe_continue_as_new(issue, plan, workspace, "verify")
            self._rounds += 1
            test_run = await self._run_tests(workspace)
            loop.verify_runs_since_human += 1
            if test_run.passed:
                self._end_stage()
                return test_run
            loop.verify_outputs.append(test_run.output_tail)
            stuck = recovery.classify_test_runs(loop.verify_outputs) == "no_progress"
            if stuck or loop.verify_runs_since_human >= settings.max_verify_attempts:
                reason = (
                    "The last fix changed nothing in the failing test output."
                    if stuck
                    else f"Tests still fail after {loop.verify_runs_since_human} attempts."
                )
                resume = await self._escalate(reason, test_run.output_tail)
                loop.verify_runs_since_human = 0
                loop.verify_outputs = []
                loop.guidance = resume.guidance if resume else ""
            feedback = f"The tests fail. Output:\n{test_run.output_tail}"
            if loop.guidance:
                feedback += f"\n\nGuidance from a human: {loop.guidance}"
            last_task = plan.in_dependency_order()[-1]
            await self._change(issue, plan, last_task, workspace, "fix", feedback, "fix")

    async def _review(
        self,
        issue: IssueInfo,
        plan: Plan,
        workspace: WorkspaceRef,
        test_run: TestRun,
        resumed: bool = False,
    ) -> tuple[ReviewVerdict, list[GateResult], TestRun]:
        loop = self._loop
        if not resumed:
            loop.review_rounds_since_human = 0
        while True:
            await self._maybe_continue_as_new(issue, plan, workspace, "review", test_run)
            self._rounds += 1
            await self._enter("review")
            loop.review_rounds_since_human += 1
            rounds_since_human = loop.review_rounds_since_human
            self._bump("review")
            diff = await self._call(
                names.DIFF_SUMMARY, DiffSummaryInput(workspace=workspace), DiffSummary, options.GIT
            )
            gates = review_gates(diff, test_run, self._input.repo_settings)
            failed = [g for g in gates if not g.passed]
            if failed:
                verdict = ReviewVerdict(
                    verdict="request_changes",
                    summary="Deterministic gates failed: " + ", ".join(g.name for g in failed),
                    requested_changes=[f"{g.name}: {g.detail}" for g in failed],
                )
            else:
                reviewed = await self._ask(
                    names.REVIEW_CHANGE,
                    ReviewChangeInput(issue=issue, plan=plan, diff=diff, test_run=test_run),
                    ReviewChangeOutput,
                    stage="review",
                )
                self._add_usage(reviewed.usage)
                verdict = reviewed.verdict
            self._status.review = verdict
            self._end_stage()
            if verdict.verdict == "approve":
                return verdict, gates, test_run
            if rounds_since_human >= self._input.settings.max_review_rounds:
                await self._escalate(
                    f"Review still requests changes after {rounds_since_human} rounds.",
                    "\n".join(verdict.requested_changes) or verdict.summary,
                )
                loop.review_rounds_since_human = 0
                continue
            await self._enter("implement")
            feedback = "Review requested changes:\n" + "\n".join(
                f"- {c}" for c in verdict.requested_changes or [verdict.summary]
            )
            last_task = plan.in_dependency_order()[-1]
            await self._change(issue, plan, last_task, workspace, "review", feedback, "review")
            self._end_stage()
            test_run = await self._verify(issue, plan, workspace)

    # ----- continue-as-new -------------------------------------------------------------------

    async def _maybe_continue_as_new(
        self,
        issue: IssueInfo,
        plan: Plan,
        workspace: WorkspaceRef,
        at: LoopStage,
        test_run: TestRun | None = None,
    ) -> None:
        """At a loop boundary only (never mid-wait): hand the state to a fresh history."""
        if self._rounds == 0:
            return  # always make progress in a run
        if self._rounds < self._input.settings.max_loop_rounds_per_run and not (
            workflow.info().is_continue_as_new_suggested()
        ):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._loop.resume_at = at
        carried = CarriedState(
            issue=issue,
            plan=plan,
            workspace=workspace,
            status=self._status,
            loop=self._loop,
            touched=self._touched,
            changes=self._changes,
            escalations=self._escalations,
            calls=self._calls,
            gateway=self._gateway.snapshot() if self._input.model is not None else None,
            test_run=test_run,
            cancel=self._cancel,
        )
        workflow.logger.info("continuing as new after %d rounds at %s", self._rounds, at)
        workflow.continue_as_new(self._input.model_copy(update={"carried": carried}))

    def _restore(self, carried: CarriedState) -> None:
        self._status = carried.status.model_copy(deep=True)
        self._loop = carried.loop.model_copy(deep=True)
        self._touched = list(carried.touched)
        self._changes = carried.changes
        self._escalations = carried.escalations
        self._calls = carried.calls
        self._cancel = carried.cancel
        if carried.gateway is not None:
            self._gateway.restore(carried.gateway)

    # ----- building blocks -------------------------------------------------------------------

    async def _change(
        self,
        issue: IssueInfo,
        plan: Plan,
        task: PlanTask,
        workspace: WorkspaceRef,
        purpose: str,
        feedback: str,
        kind: str,
    ) -> CommitInfo:
        """Ask the model for edits, apply them untrusted, commit and push."""
        self._bump("implement" if purpose == "task" else purpose)
        scope = list(dict.fromkeys([*task.files, *self._touched]))
        contents = await self._call(
            names.READ_FILES,
            ReadFilesInput(workspace=workspace, paths=scope),
            FileContents,
            options.GIT,
        )
        drafted = await self._ask(
            names.DRAFT_EDITS,
            DraftEditsInput(
                purpose=purpose,  # type: ignore[arg-type]
                issue=issue,
                plan=plan,
                task=task,
                files=contents.files,
                feedback=feedback,
            ),
            DraftEditsOutput,
            stage="fix" if purpose == "fix" else "edits",
            task=task,
        )
        self._add_usage(drafted.usage)
        self._changes += 1
        # Unique per workflow and per change, stable across retries of the same call; the
        # first run's id, because continue-as-new changes the run id but not the count.
        change_id = f"{workflow.info().first_execution_run_id[:8]}:{self._changes}:{kind}"
        commit = await self._call(
            names.APPLY_EDITS,
            ApplyEditsInput(workspace=workspace, edits=drafted.edits, change_id=change_id),
            CommitInfo,
            options.GIT,
        )
        for path in commit.files:
            if path not in self._touched:
                self._touched.append(path)
        return commit

    async def _run_tests(self, workspace: WorkspaceRef) -> TestRun:
        self._bump("verify")
        self._calls += 1
        repo_settings = self._input.repo_settings
        return await workflow.execute_activity(
            names.RUN_TESTS,
            RunTestsInput(
                workspace=workspace,
                command=repo_settings.test_command,
                timeout_seconds=repo_settings.test_timeout_seconds,
            ),
            result_type=TestRun,
            start_to_close_timeout=timedelta(seconds=repo_settings.test_timeout_seconds)
            + options.TEST_RUN_SLACK,
            heartbeat_timeout=options.TEST_RUN_HEARTBEAT,
            retry_policy=options.TEST_RUN_RETRY,
            activity_id=f"verify-{self._calls}",
            summary="run the repository's tests",
        )

    async def _escalate(
        self, reason: str, details: str, *, tasks_failed: bool = False
    ) -> ResumeRequest | None:
        """Label needs-human, say what failed, and wait for resume (or skip-task, or cancel)."""
        self._escalations += 1
        await self._labels(add=[names.LABEL_NEEDS_HUMAN])
        body = render.escalation_comment(reason, details, self._input.issue)
        if tasks_failed:
            body += "\n\n" + render.task_escalation_help(self._input.issue)
        await self._comment(f"needs-human:{self._escalations}", body)
        # Only now is anyone told, so only now does the run accept a resume.
        self._status.waiting_for = "resume"
        await self._report()
        await workflow.wait_condition(
            lambda: self._resume is not None or bool(self._skips) or self._cancel is not None
        )
        if self._cancel is not None:
            raise RunCancelled()
        resumed, self._resume = self._resume, None
        self._status.waiting_for = None
        await self._labels(remove=[names.LABEL_NEEDS_HUMAN])
        await self._report()
        return resumed

    async def _call(
        self,
        activity: str,
        arg: Any,
        result_type: type[T] | None,
        opts: options.CallOptions,
        stage: str | None = None,
    ) -> T:
        self._calls += 1
        try:
            # "<stage>-<n>": the stage shows in the Web UI and in every activity log line.
            result: T = await opts.execute(
                activity, arg, result_type, f"{stage or self._status.stage}-{self._calls}"
            )
            return result
        except ActivityError as err:
            raise self._stage_failure(err, stage) from err

    async def _ask(
        self,
        activity: str,
        arg: Any,
        result_type: type[T],
        stage: str,
        task: PlanTask | None = None,
    ) -> T:
        """A model call through the gateway: tier, budgets, failover."""
        try:
            return await self._gateway.call(activity, arg, result_type, stage=stage, task=task)  # type: ignore[type-var]
        except ActivityError as err:
            raise self._stage_failure(err, None) from err

    def _stage_failure(self, err: ActivityError, stage: str | None) -> Exception:
        """Permanent activity failures end the stage with a comment; others stay as they are."""
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in options.PERMANENT_ERRORS:
            return StageFailed(stage or self._status.stage, cause.message)
        return err

    async def _budget_paused(self, pause: BudgetPause | None) -> None:
        if pause is not None:
            await self._comment(f"budget:{pause.scope}", pause.message())
        self._status.waiting_for = "budget" if pause is not None else None
        await self._report()

    async def _labels(self, add: list[str] | None = None, remove: list[str] | None = None) -> None:
        await self._call(
            names.SET_ISSUE_LABELS,
            SetIssueLabelsInput(issue=self._input.issue, add=add or [], remove=remove or []),
            list,
            options.FORGE,
        )

    async def _comment(self, marker: str, body: str) -> CommentRef:
        return await self._call(
            names.UPSERT_COMMENT,
            UpsertCommentInput(issue=self._input.issue, marker=marker, body=body),
            CommentRef,
            options.FORGE,
        )

    async def _report(self) -> None:
        """Edit the one progress comment in place."""
        await self._comment(
            "progress", render.progress_comment(self._status, self._input.issue.workflow_id)
        )

    async def _enter(self, stage: Stage, report: bool = True) -> None:
        self._status.stage = stage
        self._status.timings.append(StageTiming(stage=stage, started_at=workflow.now()))
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(stage)])
        workflow.set_current_details(f"Stage: {stage}")
        if report:
            await self._report()

    def _end_stage(self) -> None:
        if self._status.timings and self._status.timings[-1].finished_at is None:
            self._status.timings[-1].finished_at = workflow.now()

    def _bump(self, counter: str) -> None:
        self._status.attempts[counter] = self._status.attempts.get(counter, 0) + 1

    def _add_usage(self, usage: TokenUsage) -> None:
        stage = self._status.stage
        self._status.usage[stage] = self._status.usage.get(stage, TokenUsage()) + usage

    async def _conclude(self, outcome: Outcome, remove: list[str] | None = None) -> IssueResult:
        self._end_stage()
        self._status.outcome = outcome
        self._status.stage = "done"
        workflow.upsert_search_attributes(
            [names.SA_STAGE.value_set("done"), names.SA_OUTCOME.value_set(outcome)]
        )
        if remove:
            await self._labels(remove=remove)
        if outcome == "expired":
            await self._comment(
                "expired", "⌛ No decision on the plan in time; this run has ended as *expired*."
            )
        await self._report()
        return IssueResult(outcome=outcome, pr_url=self._status.pr_url, status=self._status)

    async def _finish_failed(self, stage: str, message: str) -> None:
        self._end_stage()
        self._status.error = f"{stage}: {message}"
        self._status.outcome = "failed"
        self._status.waiting_for = None
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("failed")])
        try:
            await self._comment(f"failed:{stage}", render.failure_comment(stage, message))
            await self._labels(add=[names.LABEL_FAILED], remove=[names.LABEL_IN_PROGRESS])
            await self._report()
        except StageFailed as unreported:
            # E.g. an archived repository refuses the comment too: the run's own failure
            # (and the Web UI) must still say what went wrong first.
            workflow.logger.warning("could not report the failure on the issue: %s", unreported)

    # ----- handlers --------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> IssueStatus:
        return self._status

    @workflow.update(name="approve")
    async def approve(self, decision: ApprovalDecision) -> str:
        self._decision = decision
        return "approved" if decision.approved else "rejected; re-planning with the feedback"

    @approve.validator
    def _check_decision(self, decision: ApprovalDecision) -> None:
        if self._status.waiting_for != "approval" or self._decision is not None:
            raise ValueError("no plan is waiting for approval")
        approvers = self._input.settings.approvers
        if approvers and decision.approver not in approvers:
            raise ValueError(f"{decision.approver!r} is not an approver for this repository")
        if not decision.approved and not decision.feedback.strip():
            raise ValueError("a rejection needs feedback saying what to change")

    @workflow.update(name="raise_budget")
    def raise_budget(self, request: BudgetRaise) -> str:
        return self._gateway.raise_budget(request)

    @raise_budget.validator
    def _check_raise(self, request: BudgetRaise) -> None:
        self._gateway.check_raise(request)

    @workflow.signal(name="decide")
    def decide(self, decision: ApprovalDecision) -> None:
        """The signal twin of ``approve`` for clients without Updates; invalid ones are dropped."""
        try:
            self._check_decision(decision)
        except ValueError as invalid:
            workflow.logger.warning("ignored decision: %s", invalid)
            return
        self._decision = decision

    @workflow.signal(name="resume")
    def resume(self, request: ResumeRequest) -> None:
        if self._status.waiting_for == "resume":
            self._resume = request

    @workflow.signal(name="skip-task")
    def skip_task(self, request: SkipTaskRequest) -> None:
        """Only a task that failed or is blocked; applied when the run asks a person."""
        state = self._status.tasks.get(request.task_id)
        if state is None:
            workflow.logger.warning("ignored skip-task %r: no such task", request.task_id)
            return
        if state.state not in ("failed", "blocked"):
            workflow.logger.warning("ignored skip-task %r: it is %s", request.task_id, state.state)
            return
        self._skips.append(request.task_id)

    @workflow.signal(name="cancel")
    def cancel(self, request: CancelRequest) -> None:
        self._cancel = request
