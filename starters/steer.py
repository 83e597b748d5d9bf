"""Steer a running issue: skip a failed task, cancel the run, or raise its model budget.

python -m starters.steer --repo owner/name --issue 42 skip-task fix-parser
python -m starters.steer --repo owner/name --issue 42 cancel --reason "not needed"
python -m starters.steer --repo owner/name --issue 42 raise-budget --issue-usd 10
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from config.settings import load_config
from domain.budget import BudgetRaise
from domain.task import CancelRequest, SkipTaskRequest
from starters.common import StarterError, connect, issue_ref, run_main


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
    return p


async def steer(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    handle = (await connect(config)).get_workflow_handle(issue.workflow_id)
    try:
        if args.action == "skip-task":
            await handle.signal("skip-task", SkipTaskRequest(task_id=args.task_id, by=args.by))
            print(f"skip of task {args.task_id} sent to {issue.workflow_id}")
        elif args.action == "cancel":
            await handle.signal("cancel", CancelRequest(by=args.by, reason=args.reason))
            print(f"cancel sent to {issue.workflow_id}")
        else:
            request = BudgetRaise(by=args.by, issue_usd=args.issue_usd, task_usd=args.task_usd)
            print(await handle.execute_update("raise_budget", request, result_type=str))
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
