"""Approve or reject the plan an issue's run is waiting on (the ``approve`` Update).

The Update's validator answers every refusal (not an approver, no plan waiting, a rejection
without feedback, another plan version, a repository taking only forge-verified decisions) with
its reason: printed in one line, status 2. ``--as`` is self-declared: the issue shows the
decision as made through the Update; only an ``/autopilot approve`` comment is verified. The
``decide`` signal, which drops such decisions silently, is never used here.

python -m starters.approve --repo owner/name --issue 42 --approve --as alice
python -m starters.approve --repo owner/name --issue 42 --reject "split task 2" --as alice
python -m starters.approve --repo owner/name --issue 42 --approve --stage merge

The same decides the run's other gates (``run.gates``); ``--stage`` names the gate decided on.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from config.settings import load_config
from domain.issue import IssueRef
from domain.run import ApprovalDecision
from starters.common import (
    StarterError,
    connect,
    finished_line,
    issue_ref,
    latest_run,
    run_main,
)
from starters.gates import STAGE_HELP, parse_stage


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.approve", description=__doc__)
    p.add_argument("--repo", required=True)
    p.add_argument("--issue", required=True, type=int)
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true")
    decision.add_argument("--reject", metavar="FEEDBACK", help="what the next plan must change")
    p.add_argument(
        "--as",
        dest="approver",
        default=getpass.getuser(),
        help="who decides; self-declared (nothing checks it), and shown so on the issue",
    )
    p.add_argument(
        "--plan",
        type=int,
        metavar="VERSION",
        help="the plan version decided on (refused if another is waiting)",
    )
    p.add_argument("--stage", help=STAGE_HELP)
    p.add_argument("--config", type=Path)
    return p


async def decide(args: argparse.Namespace) -> int:
    stage = parse_stage(args.stage)
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    client = await connect(config)
    decision = ApprovalDecision(
        approver=args.approver,
        approved=bool(args.approve),
        feedback=args.reject or "",
        plan_version=args.plan,
        stage=stage,
    )
    handle = client.get_workflow_handle(issue.workflow_id)
    try:
        answer = await handle.execute_update("approve", decision, result_type=str)
    except WorkflowUpdateFailedError as err:
        reason = err.cause.message if hasattr(err.cause, "message") else str(err.cause)
        raise StarterError(f"decision refused: {reason}") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise StarterError(await _no_gate(client, issue)) from None
        raise StarterError(f"decision not delivered: {err.message}") from None
    print(answer)
    return 0


async def _no_gate(client: Client, issue: IssueRef) -> str:
    """Why no run took the decision: it has finished, or there is none."""
    try:
        previous = await latest_run(client, issue.workflow_id)
    except RPCError:
        previous = None
    if previous is not None and previous.status != WorkflowExecutionStatus.RUNNING:
        return f"decision refused: {finished_line(issue, previous)}"
    return f"no run for issue #{issue.number} in {issue.repo.full_name}"


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: decide(arguments), "approve")
