"""Start (or attach to) the Autopilot run for one issue.

python -m starters.start_issue --repo owner/name --issue 42 [--rerun]

A run that is going is joined, never doubled. Once the issue's run has finished, a new one
starts only with ``--rerun``; without it the starter says so and exits with status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from config.settings import load_config
from starters.common import (
    RunFinished,
    StarterError,
    check_issue,
    connect,
    issue_ref,
    run_main,
    start_issue_run,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.start_issue", description=__doc__)
    p.add_argument("--repo", required=True, help="owner/name, as in config/repositories.yaml")
    p.add_argument("--issue", required=True, type=int, help="issue number")
    p.add_argument(
        "--rerun",
        action="store_true",
        help="start a new run even though the issue's last run has finished",
    )
    p.add_argument("--config", type=Path, help="config file (default: config/autopilot.yaml)")
    return p


async def start(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    found = await check_issue(config, issue, config.forge_token())
    client = await connect(config)
    try:
        # A run that ended before the issue existed was for an earlier issue of this number.
        run = await start_issue_run(
            client, config, issue, rerun=args.rerun, newer_than=found.created_at
        )
    except RunFinished as finished:
        raise StarterError(f"{finished.finished}; pass --rerun to start a new one") from None
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id} ({found.title})")
    print(f"web ui: {run.ui_link}")
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: start(arguments), "start_issue")
