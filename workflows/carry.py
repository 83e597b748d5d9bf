"""What an issue run knows once its plan is approved, and what continue-as-new hands on."""

from __future__ import annotations

from dataclasses import dataclass

from domain.budget import GatewayState
from domain.change import TestRun
from domain.issue import IssueInfo
from domain.plan import Plan
from domain.run import CarriedState, IssueStatus, LoopStage, LoopState
from domain.task import CancelRequest
from domain.workspace import WorkspaceRef

__all__ = ["CarriedState", "Counters", "LoopStage", "RunContext", "snapshot"]


@dataclass(frozen=True)
class RunContext:
    """The issue, its branch and the approved plan: what every later stage works on."""

    issue: IssueInfo
    workspace: WorkspaceRef
    plan: Plan


@dataclass(frozen=True)
class Counters:
    touched: list[str]
    changes: int
    escalations: int
    calls: int


def snapshot(
    run: RunContext,
    counters: Counters,
    status: IssueStatus,
    loop: LoopState,
    gateway: GatewayState | None,
    test_run: TestRun | None,
    cancel: CancelRequest | None,
) -> CarriedState:
    return CarriedState(
        issue=run.issue,
        plan=run.plan,
        workspace=run.workspace,
        status=status,
        loop=loop,
        touched=counters.touched,
        changes=counters.changes,
        escalations=counters.escalations,
        calls=counters.calls,
        gateway=gateway,
        test_run=test_run,
        cancel=cancel,
    )
