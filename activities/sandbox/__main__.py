"""``python -m activities.sandbox``: can this host confine repository code? One line, exit 0/1.

Runs the same check a worker runs before the first sandboxed command, with the sandbox
settings of ``config/autopilot.yaml`` (``AUTOPILOT_CONFIG`` and overrides apply).
"""

from __future__ import annotations

import asyncio
import os
import sys

from temporalio.exceptions import ApplicationError

from activities.sandbox.runner import Sandbox
from config.settings import ConfigError, load_config


async def _check() -> str:
    sandbox = Sandbox(load_config().sandbox)
    if not sandbox.confined:
        return "sandbox.mode is none: repository code would run UNCONFINED"
    await sandbox.ensure_available()
    first, size = sandbox.settings.uid, sandbox.settings.uid_pool_size
    if sandbox.drop_to() is None:
        who = f"the worker's uid {os.geteuid()}"
    else:
        who = f"uid {first}" if size == 1 else f"uids {first}-{first + size - 1} (one per command)"
    return f"sandbox ok: bubblewrap works here; repository code runs as {who}"


def main() -> None:
    try:
        print(asyncio.run(_check()))
    except (ApplicationError, ConfigError) as problem:
        print(problem, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
