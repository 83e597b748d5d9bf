"""A stand-in for IssueWorkflow with the same name and handlers, and none of the work.

It waits at ``approval`` (the ``approve`` Update, whose validator refuses anyone but ``alice``,
like ``run.approvers``, and a decision naming another gate than the plan), then at
``resume``; ``finish`` ends it with an outcome, as a run that opened its PR.
"""

from __future__ import annotations

from temporalio import workflow

from domain import names
from domain.run import ApprovalDecision, IssueStatus, IssueWorkflowInput, ResumeRequest

APPROVER = "alice"


@workflow.defn(name=names.ISSUE_WORKFLOW, sandboxed=False)
class StubIssueWorkflow:
    def __init__(self) -> None:
        self._status = IssueStatus(stage="approval", waiting_for="approval")
        self._done = False

    @workflow.run
    async def run(self, input: IssueWorkflowInput) -> str:
        await workflow.wait_condition(lambda: self._done)
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("pr_opened")])
        return f"done with #{input.issue.number}"

    @workflow.query(name="status")
    def status(self) -> IssueStatus:
        return self._status

    @workflow.update(name="approve")
    def approve(self, decision: ApprovalDecision) -> str:
        self._status = IssueStatus(stage="implement", waiting_for="resume")
        return "approved"

    @approve.validator
    def _check(self, decision: ApprovalDecision) -> None:
        if decision.stage not in (None, "plan"):  # only the plan gate waits here
            raise ValueError(f"no {decision.stage} gate is waiting")
        if self._status.waiting_for != "approval":
            raise ValueError("no plan is waiting for approval")
        if decision.approver != APPROVER:
            raise ValueError(f"{decision.approver!r} is not an approver for this repository")

    @workflow.signal(name="resume")
    def resume(self, request: ResumeRequest) -> None:
        if self._status.waiting_for == "resume":
            self._done = True

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self._done = True
