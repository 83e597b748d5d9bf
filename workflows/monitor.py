"""The monitor stage: after the PR opens, the run keeps watching it until it ends.

Each round reads the PR from the forge (reviews of people with write access, the combined
status of its head, whether it is mergeable) and then waits for a forge event (the webhook
signals ``pr-event``) or the poll interval, whichever comes first. Changes requested or review
comments from writers go to the implementer (``run.max_review_iterations`` answers before a
person is asked); with ``merge.mode: when-approved`` the PR is merged once every rule of
``domain.merge`` holds. A closed PR ends the run as ``pr_closed``, a PR somebody else merged as
``merged``. Rounds count toward continue-as-new, so a PR open for weeks keeps a small history.

With the ``merge`` gate (``run.gates``) a person approves each head before it merges: once every
rule holds the run asks, and after an approval it reads the PR again and merges only that head
(a push, or a review meanwhile, is seen first; a new head is asked about again). A rejection's
feedback goes to the implementer like a review on the PR (tested, pushed, answered on the PR,
not counted against ``run.max_review_iterations``: a person asked for it), and the gate asks
again once every rule holds for the new head.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Protocol

from temporalio import workflow

from domain import names
from domain.change import TestRun
from domain.cross_repo import PullRef, PullVerdict, PullVerdictInput, UpdatePullSectionInput
from domain.merge import MergePolicy, merge_blockers
from domain.pull_body import PULL_STATUS_MARKER
from domain.pull_feedback import PullFeedback, PullFeedbackInput
from domain.run import ApprovalDecision, IssueResult, IssueWorkflowInput, LoopStage, LoopState
from workflows import merge, render
from workflows.agent import AGENT_LOOP
from workflows.calls import Activities
from workflows.carry import RunContext
from workflows.errors import RunCancelled
from workflows.escalation import Escalation
from workflows.issue_changes import IssueChanges
from workflows.progress import Progress
from workflows.stage_gates import StageGates

MONITOR_STAGE = "monitor-stage"  # before it, a run ended as soon as its PR was open
MERGE_GATE = "merge-gate"  # before it, no run asked a person before merging
PULL_STATUS_REFRESHED = "pull-status-refreshed"  # before it, the PR body kept the first head's


class WatchedRun(Protocol):
    """What the monitor stage uses of ``IssueWorkflow``."""

    input: IssueWorkflowInput
    progress: Progress
    calls: Activities
    escalation: Escalation
    changes: IssueChanges
    stage_gates: StageGates
    rounds: int
    _loop: LoopState

    async def maybe_continue_as_new(
        self, at: LoopStage, test_run: TestRun | None = None
    ) -> None: ...

    def _context(self) -> RunContext: ...

    async def _verify(self, resumed: bool = False) -> TestRun: ...


class PullRequestWatch:
    def __init__(self, run: WatchedRun, branch: str) -> None:
        self._run = run
        self._branch = branch
        self._events = 0
        workflow.set_signal_handler(names.PR_EVENT_SIGNAL, self._on_event)

    @property
    def policy(self) -> MergePolicy:
        return self._run.input.repo_settings.merge

    @property
    def max_iterations(self) -> int:
        return self._run.input.settings.max_review_iterations

    def watches(self) -> bool:
        """Whether this run stays with its PR (old histories replay without the stage)."""
        wanted = self.policy.mode != "never" or self.max_iterations > 0
        return wanted and workflow.patched(MONITOR_STAGE)

    async def after_opening(self) -> IssueResult:
        """The run's ending once its PR is open: watch it, or end as ``pr_opened``."""
        if not self.watches():
            return await self._run.progress.conclude("pr_opened")
        return await self.run()

    def _on_event(self, *_: object) -> None:
        self._events += 1

    def _pull(self) -> PullRef:
        number = self._run.progress.status.pr_number
        assert number is not None, "the monitor stage starts once the PR is open"
        return PullRef(repo=self._run.input.issue.repo, number=number)

    async def run(self, resumed: bool = False) -> IssueResult:
        if resumed:  # a continued run: answers to reviews use the loop as the first run did
            self._run.changes.with_tools = workflow.patched(AGENT_LOOP)
        enter = not resumed
        while True:
            async with self._run.progress.stage("monitor", enter=enter):
                enter = False
                await self._run.maybe_continue_as_new("monitor")
                self._run.rounds += 1
                seen = self._events
                verdict = await self._read()
                ended = await self._ended(verdict)
                if ended is not None:
                    return ended
                feedback = await self._feedback()
                rejected: ApprovalDecision | None = None
                if not feedback.items:
                    merged = await self._merge_or_wait(verdict)
                    if isinstance(merged, IssueResult):
                        return merged
                    if merged is None:
                        await self._wait(seen)
                        continue
                    rejected = merged  # at the merge gate
            if rejected is None:
                await self._answer(feedback)
            else:
                await self._answer_gate(rejected)
            enter = True

    async def _read(self) -> PullVerdict:
        return await self._run.calls.run(
            names.PULL_VERDICT,
            PullVerdictInput(pull=self._pull(), writers_only=True),
            PullVerdict,
        )

    async def _ended(self, verdict: PullVerdict) -> IssueResult | None:
        if verdict.merged:
            return await self._end("merged", merge.merged_by_someone_comment(self._url()))
        if verdict.state == "closed":
            return await self._end("pr_closed", merge.closed_comment(self._url()))
        return None

    async def _merge_or_wait(self, verdict: PullVerdict) -> IssueResult | ApprovalDecision | None:
        """Merge when every rule holds and the merge gate lets it (the run ends), else say what
        the merge waits for; the merge gate's rejection, for the implementer."""
        if self.policy.mode == "never":
            await self._waiting("reviews on the pull request")
            return None
        blockers = merge_blockers(verdict, self.policy)
        if blockers:
            await self._waiting(merge.waiting_text(blockers))
            return None
        if not self._approved(verdict):
            decision = await self._run.stage_gates.decision("merge")
            self._events += 1  # read the PR again at once: it may have changed meanwhile
            if not decision.approved:
                return decision
            self._run._loop.merge_approved = verdict.head_sha
            return None
        issue = self._run.input.issue
        title = f"Merge #{self._pull().number} (fixes #{issue.number})"
        refused = await merge.merge_checked(
            self._run.calls, self._pull(), verdict, self.policy, title
        )
        if refused is None:
            comment = merge.merged_comment(self._url(), self.policy.style)
            return await self._end("merged", comment)
        await self._run.escalation.ask(
            "The forge refused to merge the pull request; merge it by hand, or resume to "
            "try again.",
            refused,
        )
        self._events += 1  # read the PR again at once
        return None

    def _approved(self, verdict: PullVerdict) -> bool:
        """Whether this head may merge as far as the merge gate goes."""
        if not self._run.stage_gates.gates("merge") or not workflow.patched(MERGE_GATE):
            return True
        return self._run._loop.merge_approved == verdict.head_sha

    # ----- feedback from reviewers -----------------------------------------------------------

    async def _feedback(self) -> PullFeedback:
        if self.max_iterations == 0:
            return PullFeedback()
        loop = self._run._loop
        feedback = await self._run.calls.run(
            names.PULL_FEEDBACK,
            PullFeedbackInput(
                pull=self._pull(),
                after_review=loop.feedback_review,
                after_comment=loop.feedback_comment,
            ),
            PullFeedback,
        )
        loop.feedback_review, loop.feedback_comment = feedback.last_review, feedback.last_comment
        return feedback

    async def _answer(self, feedback: PullFeedback) -> None:
        """Hand the feedback to the implementer, test, push, and say on the PR what changed."""
        run, loop = self._run, self._run._loop
        if loop.pr_iterations >= self.max_iterations:
            await run.escalation.ask(
                f"Autopilot answered {loop.pr_iterations} reviews on the pull request; resume "
                "to let it answer this one too.",
                feedback.render(),
            )
            loop.pr_iterations = 0
        loop.pr_iterations += 1
        summary = await self._change(merge.feedback_brief(feedback))
        body = merge.answer_comment(feedback, summary, loop.pr_iterations, self.max_iterations)
        await self._say(body)

    async def _answer_gate(self, decision: ApprovalDecision) -> None:
        """The merge gate's rejection: a person's review, answered like one on the PR."""
        summary = await self._change(merge.gate_brief(decision.approver, decision.feedback))
        await self._say(merge.gate_answer_comment(decision.approver, summary))

    async def _change(self, brief: str) -> str:
        """Change the code as ``brief`` asks and test it; the implementer's summary."""
        run = self._run
        async with run.progress.stage("implement"):
            await run.changes.make(run._context(), "review", brief)
        test_run = await run._verify()
        await self._refresh_body(test_run)
        summary = run.progress.status.loops.get(f"review {run.changes.count}")
        return summary.summary if summary else ""

    async def _refresh_body(self, test_run: TestRun) -> None:
        """Rewrite the PR body's status section for the new head (tests, loops, cost)."""
        if not workflow.patched(PULL_STATUS_REFRESHED):
            return
        section = render.pull_status_markdown(test_run, self._run.progress.status)
        await self._run.calls.run(
            names.UPDATE_PULL_SECTION,
            UpdatePullSectionInput(pull=self._pull(), section=section, marker=PULL_STATUS_MARKER),
            None,
        )

    async def _say(self, body: str) -> None:
        run = self._run
        await run.calls.run(
            names.UPSERT_COMMENT,
            merge.pull_comment(self._pull(), f"answer:{run.changes.count}", body),
            None,
        )

    # ----- waiting and ending ----------------------------------------------------------------

    async def _waiting(self, text: str) -> None:
        if self._run.progress.status.waiting_for != text:
            await self._run.progress.waiting_for(text)

    async def _wait(self, seen: int) -> None:
        """Until a forge event arrived since ``seen``, or the bounded poll's time is up."""
        escalation = self._run.escalation
        with suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._events != seen or escalation.cancelled(),
                timeout=timedelta(seconds=self.policy.poll_seconds),
            )
        if escalation.cancelled():
            raise RunCancelled()

    async def _end(self, outcome: merge.EndOutcome, comment: str) -> IssueResult:
        progress = self._run.progress
        progress.status.waiting_for = None
        await merge.delete_work_branch(self._run.calls, self._pull(), self._branch, self.policy)
        await progress.comment(f"monitor:{outcome}", comment)
        return await progress.conclude(outcome, [names.LABEL_PR_OPEN, names.LABEL_NEEDS_HUMAN])

    def _url(self) -> str:
        return self._run.progress.status.pr_url or f"#{self._pull().number}"
