"""Whether this worker can confine repository code, and the one-line refusal when it cannot."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.sandbox.bwrap import BASE_PATH, SandboxRequest, Tools, bwrap_args, prlimit_args
from activities.sandbox.process import run_process
from domain import names
from domain.sandbox import SandboxSettings

CHECK_TIMEOUT_SECONDS = 15.0
_OPT_OUT = "set sandbox.mode: none to run it unconfined"


def unavailable(reason: str) -> ApplicationError:
    """Non-retryable: no retry installs bubblewrap or changes what the kernel allows."""
    return ApplicationError(
        f"refusing to run repository code: {reason}; {_OPT_OUT}",
        type=names.ERR_SANDBOX_UNAVAILABLE,
        non_retryable=True,
    )


async def find_tools(bwrap: str | None, root: bool) -> Tools:
    """The sandbox's programs, or the refusal naming the one that is missing."""
    found = bwrap or shutil.which("bwrap")
    if not found or not Path(found).is_file():
        raise unavailable(
            "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
        )
    prlimit = shutil.which("prlimit")
    if not prlimit:
        raise unavailable("prlimit (util-linux) is not installed")
    # setpriv runs inside the sandbox, so it must live where the sandbox shows the system.
    setpriv = shutil.which("setpriv", path=f"{BASE_PATH}:/usr/sbin:/sbin") if root else None
    if root and not setpriv:
        raise unavailable("setpriv (util-linux) is not installed")
    proc = await asyncio.create_subprocess_exec(
        found,
        "--help",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise unavailable(f"{found} --help did not answer") from None
    return Tools(bwrap=found, prlimit=prlimit, setpriv=setpriv, tmpfs_size=b"--size" in out)


async def check_sandbox(
    tools: Tools,
    settings: SandboxSettings,
    mounts: list[str],
    drop_to: tuple[int, int] | None,
    env: dict[str, str],
) -> None:
    """Runs ``true`` in exactly the sandbox real commands get; refuses if that fails."""
    with tempfile.TemporaryDirectory(prefix="autopilot-sandbox-check-") as scratch:
        request = SandboxRequest(argv=["true"], checkout=Path(scratch))
        argv = prlimit_args(tools, settings) + bwrap_args(request, settings, tools, mounts, drop_to)
        result = await run_process(
            argv,
            cwd=Path("/"),
            env=env,
            timeout_seconds=CHECK_TIMEOUT_SECONDS,
            heartbeat=lambda: None,
            tail_chars=2_000,
        )
    if result.exit_code != 0:
        lines = [line for line in result.output.splitlines() if line.strip()]
        why = lines[-1].strip() if lines else f"exit status {result.exit_code}"
        raise unavailable(f"bubblewrap cannot create a sandbox on this host ({why})")
