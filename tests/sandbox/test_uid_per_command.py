"""A root worker runs each command as a uid of its own. RLIMIT_NPROC counts processes per uid
across the host, so one command at its process limit cannot stop another forking; and what one
uid made (an environment) stays usable by the next."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from activities.sandbox import ProcessResult, Sandbox
from domain.sandbox import SandboxSettings
from tests.sandbox.conftest import run_in

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only a root worker hands commands to other uids"
)

FIRST_UID = 65000  # used by no other test
PROCESS_LIMIT = 32
# Forks until the limit, says so, and holds its processes until the test is done.
HOLD = """
import os, pathlib, time
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
except OSError:
    pathlib.Path("full").write_text("")
while not pathlib.Path("release").exists():
    time.sleep(0.05)
"""
FORKS = "seq 3 | xargs echo forked"


async def _fork_while_another_is_full(pool_size: int, checkout: Path) -> ProcessResult:
    settings = SandboxSettings(uid=FIRST_UID, uid_pool_size=pool_size, max_processes=PROCESS_LIMIT)
    sandbox = Sandbox(settings)
    holder = asyncio.create_task(run_in(sandbox, checkout, ["python3", "-c", HOLD]))
    try:
        while not (checkout / "full").exists():
            assert not holder.done(), await holder
            await asyncio.sleep(0.05)
        return await run_in(sandbox, checkout, ["sh", "-c", FORKS])
    finally:
        (checkout / "release").write_text("")
        await holder


async def test_a_command_at_its_process_limit_does_not_stop_another(checkout: Path) -> None:
    result = await _fork_while_another_is_full(2, checkout)
    assert result.exit_code == 0 and "forked 1 2 3" in result.output


async def test_with_one_uid_for_all_commands_it_would(checkout: Path) -> None:
    result = await _fork_while_another_is_full(1, checkout)
    assert result.exit_code != 0 and "fork" in result.output.lower()


async def test_what_setup_made_private_is_readable_by_the_test_runs_after_it(
    checkout: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox(SandboxSettings(uid=FIRST_UID, uid_pool_size=2))
    environment = tmp_path / "env"
    environment.mkdir()
    made = await run_in(
        sandbox,
        checkout,
        ["sh", "-c", "umask 077 && mkdir /autopilot/env/lib && echo ok > /autopilot/env/lib/x"],
        environment=environment,
        setup=True,
    )
    assert made.exit_code == 0, made.output
    uids = set()
    for _ in range(2):  # the pool's two uids, in turn
        read = await run_in(
            sandbox, checkout, ["sh", "-c", "id -u && cat /autopilot/env/lib/x"],
            environment=environment,
        )  # fmt: skip
        assert read.exit_code == 0 and read.output.split()[1:] == ["ok"], read.output
        uids.add(read.output.split()[0])
    assert uids == {str(FIRST_UID), str(FIRST_UID + 1)}
