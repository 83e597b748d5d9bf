"""Start (or attach to) the Autopilot run for one issue.

python -m starters.start_issue --repo owner/name --issue 42 [--rerun] [--gates implement,verify]

A run that is going is joined, never doubled. Once the issue's run has finished, a new one
starts only with ``--rerun``; without it the starter says so and exits with status 2.
``--gates`` gives the started run its own interactive gates (``none``: no gates), overriding the
repository's ``gates`` and ``run.gates``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from activities.forge.gitea_models import Issue
from config.settings import load_config
from starters.common import (
    RunFinished,
    StartedRun,
    StarterError,
    check_issue,
    connect,
    issue_ref,
    run_main,
    start_issue_run,
)
from starters.gates import GATES_HELP, parse_gates


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.start_issue", description=__doc__)
    p.add_argument("--repo", required=True, help="owner/name, as in config/repositories.yaml")
    p.add_argument("--issue", required=True, type=int, help="issue number")
    p.add_argument(
        "--rerun",
        action="store_true",
        help="start a new run even though the issue's last run has finished",
    )
    p.add_argument("--gates", metavar="STAGES", help=GATES_HELP)
    p.add_argument("--config", type=Path, help="config file (default: config/autopilot.yaml)")
    return p


async def start_or_join(args: argparse.Namespace) -> tuple[StartedRun, Issue]:
    """The issue's run, started or joined as ``args`` say; StarterError saying why not."""
    gates = parse_gates(args.gates)
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    found = await check_issue(config, issue, config.forge_token())
    client = await connect(config)
    try:
        # A run that ended before the issue existed was for an earlier issue of this number.
        run = await start_issue_run(
            client, config, issue, rerun=args.rerun, newer_than=found.created_at, gates=gates
        )
    except RunFinished as finished:
        raise StarterError(f"{finished.finished}; pass --rerun to start a new one") from None
    return run, found


async def start(args: argparse.Namespace) -> int:
    run, found = await start_or_join(args)
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id} ({found.title})")
    print(f"web ui: {run.ui_link}")
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: start(arguments), "start_issue")
