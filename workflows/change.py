"""One change to a branch: read the files in scope, ask the model for edits, apply them.

Shared by the issue run (fixes, review answers) and every task. The edits are untrusted: the
apply activity refuses unsafe ones, commits and pushes, idempotently per ``change_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain import names
from domain.change import CommitInfo
from domain.issue import IssueInfo
from domain.model import DraftEditsInput, DraftEditsOutput, EditPurpose
from domain.plan import Plan, PlanTask
from domain.usage import TokenUsage
from domain.workspace import ApplyEditsInput, FileContents, ReadFilesInput, WorkspaceRef
from workflows.calls import Activities
from workflows.model_gateway import ModelGateway


class Work(Protocol):
    """Where a change goes: a task of a plan, on a branch (``TaskWorkflowInput`` is one)."""

    @property
    def issue(self) -> IssueInfo: ...
    @property
    def plan(self) -> Plan: ...
    @property
    def task(self) -> PlanTask: ...
    @property
    def workspace(self) -> WorkspaceRef: ...


@dataclass(frozen=True)
class IssueWork:
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    workspace: WorkspaceRef


@dataclass(frozen=True)
class ChangeRequest:
    work: Work
    purpose: EditPurpose
    feedback: str
    scope: list[str]
    change_id: str


async def make_change(
    calls: Activities,
    gateway: ModelGateway,
    request: ChangeRequest,
    account: Callable[[TokenUsage], None],
) -> CommitInfo:
    """``account`` gets the model's usage as soon as it is known, even if applying fails."""
    work = request.work
    contents = await calls.run(
        names.READ_FILES,
        ReadFilesInput(workspace=work.workspace, paths=list(dict.fromkeys(request.scope))),
        FileContents,
    )
    drafted = await gateway.call(
        names.DRAFT_EDITS,
        DraftEditsInput(
            purpose=request.purpose,
            issue=work.issue,
            plan=work.plan,
            task=work.task,
            files=contents.files,
            feedback=request.feedback,
        ),
        DraftEditsOutput,
        stage="fix" if request.purpose == "fix" else "edits",
        task=work.task,
    )
    account(drafted.usage)
    return await calls.run(
        names.APPLY_EDITS,
        ApplyEditsInput(workspace=work.workspace, edits=drafted.edits, change_id=request.change_id),
        CommitInfo,
    )
