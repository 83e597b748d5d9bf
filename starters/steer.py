"""Steer a running issue: skip a failed task, cancel the run, or raise its model budget.

python -m starters.steer --repo owner/name --issue 42 skip-task fix-parser
python -m starters.steer --repo owner/name --issue 42 cancel --reason "not needed"
python -m starters.steer --repo owner/name --issue 42 raise-budget --issue-usd 10
python -m starters.steer --repo owner/name --issue 42 raise-budget --task fix-parser --task-usd 2

Each action is checked against the run before it is sent: a finished run, an unknown task or a
task that has not failed is refused in one line with status 2, never reported as sent.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from config.settings import load_config
from domain.budget import BudgetRaise
from domain.issue import IssueRef
from domain.run import IssueStatus
from domain.task import SKIPPABLE_TASK_STATES, CancelRequest, SkipTaskRequest, task_workflow_id
from starters.common import RunFinished, StarterError, connect, issue_ref, latest_run, run_main

Action = Callable[[Client, IssueRef, argparse.Namespace], Awaitable[str]]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.steer", description=__doc__)
    p.add_argument("--repo", required=True)
    p.add_argument("--issue", required=True, type=int)
    p.add_argument("--as", dest="by", default=getpass.getuser())
    p.add_argument("--config", type=Path)
    action = p.add_subparsers(dest="action", required=True)
    skip = action.add_parser("skip-task", help="let the dependents of a failed task go on")
    skip.add_argument("task_id")
    cancel = action.add_parser("cancel", help="end the run; running tasks are cancelled")
    cancel.add_argument("--reason", default="")
    budget = action.add_parser("raise-budget", help="raise a paused run's model budget")
    budget.add_argument("--issue-usd", type=float)
    budget.add_argument("--task-usd", type=float)
    budget.add_argument("--task", help="the task whose own budget paused it (its comment says)")
    return p


async def running_run(client: Client, issue: IssueRef) -> WorkflowHandle[object, object]:
    """The issue's running run; StarterError saying why when there is none."""
    previous = await latest_run(client, issue.workflow_id)
    if previous is None:
        raise StarterError(f"no run for issue #{issue.number} in {issue.repo.full_name}")
    if previous.status != WorkflowExecutionStatus.RUNNING:
        raise RunFinished(issue, previous)
    return client.get_workflow_handle(issue.workflow_id, run_id=previous.run_id)


async def skip_task(client: Client, issue: IssueRef, args: argparse.Namespace) -> str:
    handle = await running_run(client, issue)
    status = await handle.query("status", result_type=IssueStatus)
    task = status.tasks.get(args.task_id)
    if task is None:
        known = ", ".join(sorted(status.tasks)) or "none yet"
        raise StarterError(f"the plan has no task {args.task_id!r} (its tasks: {known})")
    if task.state not in SKIPPABLE_TASK_STATES:
        raise StarterError(
            f"task {args.task_id} is {task.state}: only a failed or blocked task can be skipped"
        )
    await handle.signal("skip-task", SkipTaskRequest(task_id=args.task_id, by=args.by))
    return f"skip of task {args.task_id} sent to {issue.workflow_id}"


async def cancel(client: Client, issue: IssueRef, args: argparse.Namespace) -> str:
    handle = await running_run(client, issue)
    await handle.signal("cancel", CancelRequest(by=args.by, reason=args.reason))
    return f"cancel sent to {issue.workflow_id}: the run stops at its next step and says so"


async def raise_budget(client: Client, issue: IssueRef, args: argparse.Namespace) -> str:
    request = BudgetRaise(by=args.by, issue_usd=args.issue_usd, task_usd=args.task_usd)
    handle = await running_run(client, issue)
    if args.task:
        # A task paused on its own budget waits in its own workflow: raise it there.
        task_id = task_workflow_id(issue.workflow_id, args.task)
        described = await _describe(client, task_id)
        if described != WorkflowExecutionStatus.RUNNING:
            raise StarterError(f"task {args.task} of issue #{issue.number} is not running")
        handle = client.get_workflow_handle(task_id)
    return await handle.execute_update("raise_budget", request, result_type=str)


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


ACTIONS: dict[str, Action] = {
    "skip-task": skip_task,
    "cancel": cancel,
    "raise-budget": raise_budget,
}


async def steer(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    client = await connect(config)
    try:
        print(await ACTIONS[args.action](client, issue, args))
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", None) or str(err.cause)
        raise StarterError(f"refused: {reason}") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise StarterError(f"no running run for issue #{issue.number} in {args.repo}") from None
        raise StarterError(f"not delivered: {err.message}") from None
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: steer(arguments), "steer")
