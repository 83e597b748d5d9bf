"""Start (or attach to) the Autopilot run for one issue.

python -m starters.start_issue --repo owner/name --issue 42
"""

from __future__ import annotations

import argparse
from pathlib import Path

from config.settings import load_config
from starters.common import check_issue, connect, issue_ref, run_main, start_issue_run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.start_issue", description=__doc__)
    p.add_argument("--repo", required=True, help="owner/name, as in config/repositories.yaml")
    p.add_argument("--issue", required=True, type=int, help="issue number")
    p.add_argument("--config", type=Path, help="config file (default: config/autopilot.yaml)")
    return p


async def start(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    issue = issue_ref(config, args.repo, args.issue)
    title = await check_issue(config, issue, config.forge_token())
    client = await connect(config)
    run = await start_issue_run(client, config, issue)
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id} ({title})")
    print(f"web ui: {run.ui_link}")
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: start(arguments), "start_issue")
