"""run_tests: results; timeouts and cancellation kill the process group; a scrubbed env."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain import names
from domain.workspace import RunTestsInput, WorkspaceRef


def _python(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


# Starts a grandchild in the same process group, records its pid, and waits on it forever.
_SPAWN = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "open(sys.argv[1], 'w').write(str(p.pid))\n"
    "print('started', flush=True)\n"
    "p.wait()\n"
)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # an unreaped zombie is dead too


async def _gone(pid: int) -> bool:
    for _ in range(50):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


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


async def test_missing_program_is_a_failed_result(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    run = await env.run(acts.run_tests, RunTestsInput(workspace=ws, command="no-such-program-xyz"))
    assert not run.passed and run.exit_code == 127 and "no-such-program-xyz" in run.output_tail


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


async def test_timeout_kills_the_process_group(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    beats: list[object] = []
    env.on_heartbeat = lambda *args: beats.append(args)
    acts.heartbeat_interval = 0.2
    command = shlex.join([sys.executable, "-c", _SPAWN, str(pid_file)])
    run = await env.run(
        acts.run_tests, RunTestsInput(workspace=ws, command=command, timeout_seconds=1)
    )
    assert run.timed_out and not run.passed and run.exit_code is None
    assert "started" in run.output_tail
    assert 1 <= run.duration_seconds < 10
    assert len(beats) >= 3
    assert await _gone(int(pid_file.read_text()))


async def test_cancellation_kills_the_process_group(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    command = shlex.join([sys.executable, "-c", _SPAWN, str(pid_file)])
    task = asyncio.ensure_future(
        env.run(acts.run_tests, RunTestsInput(workspace=ws, command=command, timeout_seconds=60))
    )
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(int(pid_file.read_text()))


async def test_a_process_that_escaped_the_group_does_not_hold_up_the_result(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'],"
        " start_new_session=True)\n"
        "open(sys.argv[1], 'w').write(str(p.pid))\n"
        "print('done')\n"
    )
    command = shlex.join([sys.executable, "-c", code, str(pid_file)])
    try:
        run = await env.run(
            acts.run_tests, RunTestsInput(workspace=ws, command=command, timeout_seconds=20)
        )
        assert run.passed and "done" in run.output_tail and run.duration_seconds < 10
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_environment_is_scrubbed(
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
    assert seen["PATH"] == os.environ["PATH"] and seen["PYTHONHASHSEED"] == "7"
    assert seen["HOME"] != os.environ.get("HOME") and Path(seen["TMPDIR"]).is_absolute()
    assert not Path(seen["HOME"]).exists()  # the scratch home is removed after the run
