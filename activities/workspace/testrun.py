"""Running a repository's test command: in the sandbox, with the repository's environment.

The command sees the checkout, the environment (read-only, its ``bin`` first on PATH) and
nothing of Autopilot's own: not its virtualenv, its packages, its pytest plugins or its
secrets. Without an ``EnvironmentRef`` the detected default environment is used; a ref built
elsewhere, or for dependency files that have changed since, is rebuilt here first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from activities.sandbox import Sandbox, SandboxRequest
from activities.workspace.environment import Environments, parse_command
from domain.change import TestRun
from domain.issue import RepoRef
from domain.workspace import EnvironmentRef, EnvironmentSpec, SetupFailure


async def run_tests(
    sandbox: Sandbox,
    environments: Environments,
    *,
    checkout: Path,
    repo: RepoRef,
    command: str,
    timeout_seconds: float,
    environment: EnvironmentRef | None,
    heartbeat: Callable[[], None],
    heartbeat_interval: float = 5.0,
) -> TestRun:
    """The test command's result; a setup that fails on the way is a failed run, too."""
    argv = parse_command(command, "test command")
    spec = environment.spec() if environment is not None else EnvironmentSpec()
    prepared = await environments.ensure(checkout, repo, spec, heartbeat)
    if prepared.failure is not None:
        return setup_failed(prepared.failure)
    assert prepared.environment is not None
    path = prepared.environment.path
    result = await sandbox.run(
        SandboxRequest(argv=argv, checkout=checkout, environment=Path(path) if path else None),
        timeout_seconds=timeout_seconds,
        heartbeat=heartbeat,
        heartbeat_interval=heartbeat_interval,
    )
    return TestRun(
        passed=result.exit_code == 0,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_seconds=result.duration_seconds,
        output_tail=result.output,
    )


def setup_failed(failure: SetupFailure) -> TestRun:
    """A failed setup as a failed test run: often the change itself broke a dependency."""
    return TestRun(
        passed=False,
        exit_code=failure.exit_code,
        timed_out=failure.timed_out,
        duration_seconds=failure.seconds,
        output_tail="[autopilot] the test environment could not be built.\n" + failure.describe(),
    )
