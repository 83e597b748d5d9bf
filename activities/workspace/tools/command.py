"""``run``: a shell command in the sandbox, with the repository's environment, as run_tests has.

One turn's commands share ``run_timeout_seconds`` between them: the workflow gives the turn's
activity that much time for commands (``TOOLS.with_budget``), so each gets what is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from activities.sandbox import Sandbox, SandboxRequest
from activities.workspace.environment import Environments
from activities.workspace.tools.args import ToolError
from domain.issue import RepoRef
from domain.workspace import EnvironmentRef, EnvironmentSpec

RUN_TAIL_CHARS = 10_000
SHELL = "sh"


class Commands:
    """Runs the model's commands in one checkout, within one turn's time budget."""

    def __init__(
        self,
        sandbox: Sandbox,
        environments: Environments,
        *,
        checkout: Path,
        repo: RepoRef,
        environment: EnvironmentRef | None,
        budget_seconds: int,
        heartbeat: Callable[[], None],
        heartbeat_interval: float,
    ) -> None:
        self._sandbox = sandbox
        self._environments = environments
        self._checkout = checkout
        self._repo = repo
        self._spec = environment.spec() if environment is not None else EnvironmentSpec()
        self._left = float(budget_seconds)
        self._budget = budget_seconds
        self._heartbeat = heartbeat
        self._interval = heartbeat_interval

    async def run(self, command: str, requested: int | None) -> str:
        """Exit code first, then the tail of the output; a failing command is an answer."""
        if not command.strip():
            raise ToolError("command is empty")
        if "\0" in command:
            raise ToolError("command contains a NUL byte")
        left = math.floor(self._left)
        if left < 1:
            raise ToolError(
                f"no time is left for commands in this turn (its commands share "
                f"{self._budget}s); run it in your next turn"
            )
        timeout = min(requested or left, left)
        prepared = await self._environments.ensure(
            self._checkout, self._repo, self._spec, self._heartbeat
        )
        if prepared.failure is not None:
            raise ToolError(
                "the repository's environment could not be built, so nothing was run:\n"
                + prepared.failure.describe()
            )
        assert prepared.environment is not None
        env_path = prepared.environment.path
        result = await self._sandbox.run(
            SandboxRequest(
                argv=[SHELL, "-c", command],
                checkout=self._checkout,
                environment=Path(env_path) if env_path else None,
            ),
            timeout_seconds=timeout,
            heartbeat=self._heartbeat,
            heartbeat_interval=self._interval,
            tail_chars=RUN_TAIL_CHARS,
        )
        self._left -= result.duration_seconds
        if result.timed_out:
            head = f"timed out after {timeout}s; every process it started was killed"
            if requested is not None and requested > timeout:
                head += f" (asked for {requested}s; this turn had {timeout}s left)"
        else:
            head = f"exit code {result.exit_code} ({result.duration_seconds:.1f}s)"
        output = result.output.rstrip() or "(no output)"
        return f"{head}\n{output}"
