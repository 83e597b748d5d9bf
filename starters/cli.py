"""The ``autopilot`` command: every starter, the worker, the webhook receiver and the demo.

    autopilot start   --repo owner/name --issue 42 [--rerun] [--gates implement,merge] [--json]
    autopilot approve --repo owner/name --issue 42 [--plan N] [--stage merge] [--as alice]
    autopilot reject  --repo owner/name --issue 42 "split task 2" [--stage verify]
    autopilot resume  --repo owner/name --issue 42 [--guidance "use Decimal"]
    autopilot steer   --repo owner/name --issue 42 skip-task|cancel|raise-budget ...
    autopilot status  --repo owner/name --issue 42 [--json]
    autopilot list    [--repo owner/name] [--stage S] [--outcome O] [--running] [--json]
    autopilot mode    [MODE --reason "..."]   (the deployment's mode: starters/mode.py)
    autopilot worker  [--health-port 8080]
    autopilot webhook [--host 0.0.0.0 --port 8600]
    autopilot gitea-actions          (inside a Gitea Actions job)
    autopilot demo    [--interactive]

Each command reads the usual config (``--config``, ``AUTOPILOT_CONFIG``, ``AUTOPILOT__...``).
Mistakes are one line on stderr with exit status 2; ``--json`` prints one JSON document.
``python -m starters.<name>``, ``python -m workers`` and ``python -m devstack.demo`` still work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from config.settings import load_config
from starters import approve, resume, start_issue, steer
from starters.common import (
    connect,
    issue_ref,
    run_main,
)
from starters.gates import GATES_HELP, STAGE_HELP
from starters.runs import list_query, list_runs, run_status, status_lines, table_lines

PROG = "autopilot"
DEFAULT_LIST_LIMIT = 50


def _sub(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    parser.prog = f"{PROG} {command}"
    return parser


def _issue_parser(command: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{PROG} {command}", description=description)
    p.add_argument("--repo", required=True, help="owner/name, as in config/repositories.yaml")
    p.add_argument("--issue", required=True, type=int, help="issue number")
    p.add_argument("--config", type=Path, help="config file (default: config/autopilot.yaml)")
    return p


def _print_json(document: object) -> None:
    print(json.dumps(document, indent=2, sort_keys=True))


def cmd_start(argv: list[str]) -> NoReturn:
    p = _issue_parser("start", "Start (or join) the run for an issue.")
    p.add_argument("--rerun", action="store_true", help="start anew after a finished run")
    p.add_argument("--gates", metavar="STAGES", help=GATES_HELP)
    p.add_argument("--json", action="store_true", help="print the run as JSON")
    args = p.parse_args(argv)

    async def go() -> int:
        run, _ = await start_issue.start_or_join(args)
        if args.json:
            _print_json(
                {
                    "workflow_id": run.workflow_id,
                    "run_id": run.run_id,
                    "started": run.started,
                    "ui_link": run.ui_link,
                }
            )
        else:
            print(f"{'started' if run.started else 'already running'}: {run.workflow_id}")
            print(f"web ui: {run.ui_link}")
        return 0

    run_main(go, f"{PROG} start")


def cmd_approve(argv: list[str]) -> NoReturn:
    args = _sub(approve.parser(), "approve").parse_args([*argv, "--approve"])
    run_main(lambda: approve.decide(args), f"{PROG} approve")


def cmd_reject(argv: list[str]) -> NoReturn:
    p = _issue_parser("reject", "Reject the plan or gate a run waits on, saying what must change.")
    p.add_argument("feedback", help="what the next plan must change")
    p.add_argument("--as", dest="approver", help="who decides (default: you)")
    p.add_argument("--plan", type=int, metavar="VERSION", help="the plan version decided on")
    p.add_argument("--stage", help=STAGE_HELP)
    own = p.parse_args(argv)
    forwarded = ["--repo", own.repo, "--issue", str(own.issue), "--reject", own.feedback]
    forwarded += ["--as", own.approver] if own.approver else []
    forwarded += ["--plan", str(own.plan)] if own.plan is not None else []
    forwarded += ["--stage", own.stage] if own.stage else []
    forwarded += ["--config", str(own.config)] if own.config else []
    args = _sub(approve.parser(), "reject").parse_args(forwarded)
    run_main(lambda: approve.decide(args), f"{PROG} reject")


def cmd_resume(argv: list[str]) -> NoReturn:
    args = _sub(resume.parser(), "resume").parse_args(argv)
    run_main(lambda: resume.resume(args), f"{PROG} resume")


def cmd_steer(argv: list[str]) -> NoReturn:
    args = _sub(steer.parser(), "steer").parse_args(argv)
    run_main(lambda: steer.steer(args), f"{PROG} steer")


def cmd_status(argv: list[str]) -> NoReturn:
    p = _issue_parser("status", "One run: stage, what it waits for, attempts, cost, PR.")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    async def go() -> int:
        config = load_config(path=args.config)
        issue = issue_ref(config, args.repo, args.issue)
        summary = await run_status(await connect(config), issue)
        if args.json:
            _print_json(summary.to_json())
        else:
            print("\n".join(status_lines(summary)))
        return 0

    run_main(go, f"{PROG} status")


def cmd_list(argv: list[str]) -> NoReturn:
    p = argparse.ArgumentParser(prog=f"{PROG} list", description="Issue runs, newest first.")
    p.add_argument("--repo", help="owner/name")
    p.add_argument("--stage", help="e.g. approval, implement, done")
    p.add_argument("--outcome", help="e.g. running, pr_opened, failed")
    p.add_argument("--running", action="store_true", help="only runs still going")
    p.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT)
    p.add_argument("--json", action="store_true")
    p.add_argument("--config", type=Path)
    args = p.parse_args(argv)

    async def go() -> int:
        config = load_config(path=args.config)
        query = list_query(args.repo, args.stage, args.outcome, args.running)
        runs = await list_runs(await connect(config), query, args.limit)
        if args.json:
            _print_json([run.to_json() for run in runs])
        else:
            print("\n".join(table_lines(runs)))
        return 0

    run_main(go, f"{PROG} list")


def _delegate(module_main: Callable[[], None], command: str, argv: list[str]) -> NoReturn:
    """Run an entry point that reads ``sys.argv`` itself (and ends the process itself)."""
    sys.argv = [f"{PROG} {command}", *argv]
    module_main()
    sys.exit(0)


def cmd_mode(argv: list[str]) -> NoReturn:
    from starters import mode

    args = mode.parser(f"{PROG} mode").parse_args(argv)
    run_main(lambda: mode.mode(args), f"{PROG} mode")


def cmd_worker(argv: list[str]) -> NoReturn:
    from workers.main import main

    _delegate(main, "worker", argv)


def cmd_webhook(argv: list[str]) -> NoReturn:
    from starters.webhook.__main__ import parser, serve

    args = _sub(parser(), "webhook").parse_args(argv)
    run_main(lambda: serve(args), f"{PROG} webhook")


def cmd_gitea_actions(argv: list[str]) -> NoReturn:
    from starters.gitea_actions import main

    _delegate(main, "gitea-actions", argv)


def cmd_demo(argv: list[str]) -> NoReturn:
    import autopilot
    from devstack.demo.__main__ import main

    # The embedded stack starts its own processes (`python -m ...`): they must import this code.
    paths = [str(autopilot.APP_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    _delegate(main, "demo", argv)


COMMANDS: dict[str, tuple[Callable[[list[str]], NoReturn], str]] = {
    "start": (cmd_start, "start (or join) the run for an issue"),
    "approve": (cmd_approve, "approve the plan a run waits on"),
    "reject": (cmd_reject, "reject the plan a run waits on, saying what must change"),
    "resume": (cmd_resume, "resume a run that asked for a human"),
    "steer": (cmd_steer, "skip a failed task, cancel a run, raise its budget"),
    "status": (cmd_status, "one run: stage, waiting for, attempts, cost, PR"),
    "list": (cmd_list, "runs by repository, stage and outcome"),
    "mode": (cmd_mode, "show or set the deployment's mode (normal, read-only, ...)"),
    "worker": (cmd_worker, "run a worker (every workflow and activity)"),
    "webhook": (cmd_webhook, "run the Gitea webhook receiver"),
    "gitea-actions": (cmd_gitea_actions, "start a run from a Gitea Actions label event"),
    "demo": (cmd_demo, "carry the demo issue to a pull request on the embedded stack"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Durable issue-to-pull-request automation for Gitea, on Temporal.",
        epilog="'autopilot COMMAND --help' shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return p


def main(argv: list[str] | None = None) -> NoReturn:
    argv = sys.argv[1:] if argv is None else argv
    top = parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        sys.exit(0 if argv else 2)
    if argv[0] not in COMMANDS:
        top.parse_args(argv[:1])  # argparse's one-line "invalid choice" and exit status 2
    handler, _ = COMMANDS[argv[0]]
    handler(argv[1:])


if __name__ == "__main__":
    main()
