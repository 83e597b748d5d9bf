"""The setup stage: the repository's environment, built once per dependency files and reused.

The build runs in the sandbox (``workspace.prepare_environment``). A setup command that fails
is not retried blindly: the issue shows the command and the tail of its output, and a person
resumes once the cause is fixed (a pushed fix, the package index back), which builds again.
"""

from __future__ import annotations

from domain import names
from domain.run import RepoSettings
from domain.workspace import (
    EnvironmentRef,
    PrepareEnvironmentInput,
    PrepareEnvironmentResult,
    WorkspaceRef,
)
from workflows import options
from workflows.calls import Activities
from workflows.escalation import Escalation

# Runs started before environments existed let their test runs build one (see the README).
ENVIRONMENTS = "environments"


async def prepare_environment(
    calls: Activities, escalation: Escalation, workspace: WorkspaceRef, repo: RepoSettings
) -> EnvironmentRef:
    request = PrepareEnvironmentInput(
        workspace=workspace,
        setup_commands=repo.setup_command,
        timeout_seconds=repo.setup_timeout_seconds,
    )
    budget = options.SETUP.with_budget(repo.setup_timeout_seconds)
    while True:
        result = await calls.run(
            names.PREPARE_ENVIRONMENT, request, PrepareEnvironmentResult, call=budget
        )
        if result.environment is not None:
            return result.environment
        assert result.failure is not None
        await escalation.ask(
            f"The repository's environment could not be set up. {result.failure.headline}; "
            "resume to build it again.",
            result.failure.output_tail,
        )
