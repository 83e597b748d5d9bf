"""run_tests: results, in the sandbox; timeouts and cancellation kill everything; a clean env.

The demo origin has no Python project files, so these runs get no environment: the sandbox's
system ``python3`` and nothing of the worker's virtualenv.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import sys

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain import names
from domain.workspace import RunTestsInput, WorkspaceRef
from tests.sandbox.conftest import gone, processes_with

# Starts a grandchild that carries ``token`` and waits on it forever.
_SPAWN = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen(['python3', '-c', 'import time; time.sleep(60)', sys.argv[1]])\n"
    "print('started', flush=True)\n"
    "p.wait()\n"
)


def _python(code: str, *args: str) -> str:
    return shlex.join(["python3", "-c", code, *args])


async def test_passing_and_failing_commands_are_results(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    ok = await env.run(
        acts.run_tests,
        RunTestsInput(workspace=ws, command=_python("import os; print(sorted(os.listdir('.')))")),
    )
    assert ok.passed and ok.exit_code == 0 and not ok.timed_out
    assert "README.md" in ok.output_tail  # runs in the checkout

    bad = await env.run(
        acts.run_tests,
        RunTestsInput(workspace=ws, command=_python("import sys; print('boom'); sys.exit(3)")),
    )
    assert not bad.passed and bad.exit_code == 3 and "boom" in bad.output_tail


async def test_the_workers_python_and_packages_are_not_visible(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    worker = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command=sys.executable))
    assert not worker.passed and sys.executable in worker.output_tail
    code = "import temporalio"
    run = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command=_python(code)))
    assert not run.passed and "No module named 'temporalio'" in run.output_tail


async def test_missing_program_is_a_failed_result(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    run = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command="no-such-program-xyz"))
    assert not run.passed and run.exit_code != 0 and "no-such-program-xyz" in run.output_tail


@pytest.mark.parametrize("command", ["", "pytest 'unclosed"])
async def test_unusable_command_is_a_clear_error(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, command: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.run_tests, RunTestsInput(workspace=ws, command=command))
    assert caught.value.type == names.ERR_INVALID_REQUEST


async def test_output_tail_is_bounded(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    code = "print('HEAD'); print('x' * 100_000); print('END')"
    run = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command=_python(code)))
    assert len(run.output_tail) <= 20_000
    assert run.output_tail.rstrip().endswith("END") and "HEAD" not in run.output_tail


async def test_timeout_kills_everything_it_started(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    token = f"timeout-{secrets.token_hex(6)}"
    beats: list[object] = []
    env.on_heartbeat = lambda *args: beats.append(args)
    acts.heartbeat_interval = 0.2
    run = await env.run(
        acts.run_tests,
        RunTestsInput(workspace=ws, command=_python(_SPAWN, token), timeout_seconds=1),
    )
    assert run.timed_out and not run.passed and run.exit_code is None
    assert "started" in run.output_tail
    assert 1 <= run.duration_seconds < 10
    assert len(beats) >= 3
    assert await gone(token)


async def test_cancellation_kills_everything_it_started(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    token = f"cancel-{secrets.token_hex(6)}"
    command = _python(_SPAWN, token)
    task = asyncio.ensure_future(
        env.run(acts.run_tests, RunTestsInput(workspace=ws, command=command, timeout_seconds=60))
    )
    for _ in range(200):
        if len(processes_with(token)) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(processes_with(token)) >= 2
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(token)


async def test_a_process_that_escaped_the_group_does_not_hold_up_the_result(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    token = f"escaped-{secrets.token_hex(6)}"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen(['python3', '-c', 'import time; time.sleep(30)', sys.argv[1]],"
        " start_new_session=True)\n"
        "print('done')\n"
    )
    run = await env.run(
        acts.run_tests,
        RunTestsInput(workspace=ws, command=_python(code, token), timeout_seconds=20),
    )
    assert run.passed and "done" in run.output_tail and run.duration_seconds < 10
    assert await gone(token)  # and it did not outlive the run either


async def test_environment_is_clean(
    env: ActivityEnvironment,
    acts: WorkspaceActivities,
    ws: WorkspaceRef,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOPILOT_FORGE_TOKEN", "planted-forge-token")
    monkeypatch.setenv("MY_SECRET", "planted-secret")
    monkeypatch.setenv("PYTHONSTARTUP", "planted-startup")
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    code = "import os; [print(f'{k}={v}') for k, v in sorted(os.environ.items())]"
    run = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command=_python(code)))
    seen = dict(line.split("=", 1) for line in run.output_tail.splitlines() if "=" in line)
    assert "planted" not in run.output_tail
    assert seen["PATH"] == "/usr/local/bin:/usr/bin:/bin" and seen["PYTHONHASHSEED"] == "7"
    assert seen["HOME"] == seen["TMPDIR"] == "/tmp"  # the sandbox's private tmp
