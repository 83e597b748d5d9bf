"""Without a working bubblewrap, repository code is refused in one line; ``mode: none`` runs it
unconfined, with a warning on every run; a timeout or a cancellation kills everything."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.sandbox import Sandbox, SandboxRequest
from activities.sandbox.runner import UNCONFINED_WARNING
from domain import names
from domain.sandbox import SandboxSettings
from tests.sandbox.conftest import gone, processes_with, run_in

# Two sleepers, one in the background, both carrying the token in their command line.
_SLEEPERS = (
    'python3 -c "import time; time.sleep(60)" "$0" & python3 -c "import time; time.sleep(60)" "$0"'
)


def _refusal(caught: pytest.ExceptionInfo[ApplicationError]) -> str:
    error = caught.value
    assert error.type == names.ERR_SANDBOX_UNAVAILABLE and error.non_retryable
    message = str(error)
    assert "\n" not in message and "sandbox.mode: none" in message
    return message


async def test_missing_bubblewrap_is_refused_in_one_line(checkout: Path, tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxSettings(), bwrap=str(tmp_path / "no-bwrap"))
    with pytest.raises(ApplicationError) as caught:
        await run_in(sandbox, checkout, ["true"])
    assert "bubblewrap (bwrap) is not installed" in _refusal(caught)


async def test_a_kernel_that_refuses_namespaces_is_refused_in_one_line(
    checkout: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --help ] && { echo "usage: bwrap --size BYTES"; exit 0; }\n'
        "echo 'bwrap: No permissions to creating new namespace' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    sandbox = Sandbox(SandboxSettings(), bwrap=str(fake))
    with pytest.raises(ApplicationError) as caught:
        await run_in(sandbox, checkout, ["true"])
    message = _refusal(caught)
    assert "cannot create a sandbox on this host" in message
    assert "No permissions to creating new namespace" in message
    assert not (checkout / "ran").exists()


async def test_mode_none_runs_unconfined_and_warns_every_run(
    checkout: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    environment = tmp_path / "env"
    (environment / "bin").mkdir(parents=True)
    sandbox = Sandbox(SandboxSettings(mode="none"))
    caplog.set_level(logging.WARNING, logger="autopilot.sandbox")
    for _ in range(2):
        result = await run_in(
            sandbox, checkout, ["sh", "-c", 'pwd; echo "$PATH"', "/autopilot/src/x"],
            environment=environment,
        )  # fmt: skip
        assert result.exit_code == 0
    assert result.output.splitlines() == [
        str(checkout),
        f"{environment}/bin:/usr/local/bin:/usr/bin:/bin",
    ]
    assert [r.getMessage() for r in caplog.records].count(UNCONFINED_WARNING) == 2


async def test_timeout_kills_everything_it_started(sandbox: Sandbox, checkout: Path) -> None:
    token = f"stuck-{secrets.token_hex(6)}"
    beats: list[None] = []
    request = SandboxRequest(argv=["sh", "-c", _SLEEPERS, token], checkout=checkout)
    result = await sandbox.run(
        request, timeout_seconds=1, heartbeat=lambda: beats.append(None), heartbeat_interval=0.2
    )
    assert result.timed_out and result.exit_code is None
    assert "timed out after 1s" in result.output
    assert 1 <= result.duration_seconds < 10 and len(beats) >= 3
    assert await gone(token)


async def test_cancellation_kills_everything_it_started(sandbox: Sandbox, checkout: Path) -> None:
    token = f"cancelled-{secrets.token_hex(6)}"
    task = asyncio.ensure_future(run_in(sandbox, checkout, ["sh", "-c", _SLEEPERS, token]))
    for _ in range(100):
        if len(processes_with(token)) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(processes_with(token)) >= 3  # sh and both sleepers
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(token)
