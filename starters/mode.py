"""Show or set the deployment's mode: one control for every run.

    python -m starters.mode                      the mode, who set it, when
    python -m starters.mode emergency-stop --reason "forge migration"
    python -m starters.mode normal

Modes: normal, minimal (no model review, no optional stages), read-only (no new runs; running
ones hold at their next stage and before any forge write), emergency-stop (every run holds at
its next activity; ``normal`` lets each continue exactly there).
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.control import current_mode, set_mode
from config.settings import load_config
from domain.mode import MODES, SetModeRequest
from starters.common import StarterError, connect, run_main


def parser(prog: str = "python -m starters.mode") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Show or set the deployment's mode.")
    p.add_argument("mode", nargs="?", choices=MODES, help="the mode to set (omit to show it)")
    p.add_argument("--reason", default="", help="shown with the mode on every run's issue")
    p.add_argument("--as", dest="by", default=getpass.getuser(), help="who sets it")
    p.add_argument("--json", action="store_true", help="print the mode as JSON")
    p.add_argument("--config", type=Path)
    return p


async def mode(args: argparse.Namespace) -> int:
    """The ``mode`` command: show the mode, or set it and show the result."""
    config = load_config(path=args.config)
    client = await connect(config)
    try:
        if args.mode is None:
            state = await current_mode(client)
        else:
            request = SetModeRequest(mode=args.mode, by=args.by, reason=args.reason)
            state = await set_mode(client, config.temporal.task_queue, request)
    except WorkflowUpdateFailedError as err:
        raise StarterError(f"mode not set: {err.cause}") from None
    except RPCError as err:
        raise StarterError(f"mode not reached: {err.message}") from None
    if args.json:
        print(json.dumps(state.model_dump(mode="json"), sort_keys=True))
    else:
        print(f"mode: {state.describe()}")
    return 0


def main() -> None:
    arguments = parser().parse_args()
    run_main(lambda: mode(arguments), "mode")


if __name__ == "__main__":
    main()
