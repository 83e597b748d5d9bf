"""Inputs and outputs of the workspace activities (git, environments and test runs)."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from pydantic import BaseModel, Field, model_validator

from domain.change import EditSet
from domain.issue import RepoRef

DEFAULT_SETUP_TIMEOUT_SECONDS = 1800

# Files whose content decides a repository's environment: the environment is rebuilt when any
# of them changes. Each pattern matches at the repository root only (``requirements/*.txt``:
# one level down); ``*`` never crosses a ``/``.
ENVIRONMENT_FILES = (
    "pyproject.toml", "setup.py", "setup.cfg", "*requirements*.txt", "requirements/*.txt",
    "constraints*.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "pdm.lock", "uv.lock",
    "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
    "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "Gemfile", "Gemfile.lock",
)  # fmt: skip


def is_environment_file(path: str) -> bool:
    """Whether ``path`` (relative, '/'-separated) is one of :data:`ENVIRONMENT_FILES`."""
    parts = path.strip("/").split("/")
    for pattern in ENVIRONMENT_FILES:
        wanted = pattern.split("/")
        if len(wanted) == len(parts) and all(map(fnmatchcase, parts, wanted)):
            return True
    return False


def touches_environment(paths: Iterable[str]) -> bool:
    """Whether a change to ``paths`` needs a new environment (call prepare_environment again)."""
    return any(is_environment_file(p) for p in paths)


class WorkspaceRef(BaseModel):
    """A checkout of ``branch`` (started from ``base_branch``) that a run works in.

    Any worker can rebuild it: the branch is pushed to the forge after every commit,
    so a checkout on local disk is a cache, never the record.
    """

    repo: RepoRef
    clone_url: str
    base_branch: str
    branch: str
    key: str = Field(description="Stable name of the checkout, e.g. the workflow id")


class PrepareWorkspaceInput(BaseModel):
    workspace: WorkspaceRef


class WorkspaceState(BaseModel):
    base_sha: str
    head_sha: str
    files: list[str] = Field(description="Tracked files at head")


class ReadFilesInput(BaseModel):
    workspace: WorkspaceRef
    paths: list[str]
    max_bytes_per_file: int = 200_000


class FileContents(BaseModel):
    files: dict[str, str]
    missing: list[str] = []


class ApplyEditsInput(BaseModel):
    """Apply untrusted edits, commit them, push the branch.

    ``change_id`` goes into the commit as an ``Autopilot-Change:`` trailer so that a retried
    call finds its own commit instead of committing twice.
    """

    workspace: WorkspaceRef
    edits: EditSet
    change_id: str


class EnvironmentSpec(BaseModel):
    """How a repository's environment is built (``setup_command`` in repositories.yaml)."""

    setup_commands: list[str] | None = Field(
        default=None, description="None: detect the Python default; []: no environment"
    )
    timeout_seconds: int = Field(default=DEFAULT_SETUP_TIMEOUT_SECONDS, gt=0)


class PrepareEnvironmentInput(BaseModel):
    """Build (or find in the worker's cache) the environment the checkout's tests run in."""

    workspace: WorkspaceRef
    setup_commands: list[str] | None = Field(
        default=None, description="None: detect the Python default; []: no environment"
    )
    timeout_seconds: int = Field(
        default=DEFAULT_SETUP_TIMEOUT_SECONDS, gt=0, description="For all the commands together"
    )

    def spec(self) -> EnvironmentSpec:
        return EnvironmentSpec(
            setup_commands=self.setup_commands, timeout_seconds=self.timeout_seconds
        )


class EnvironmentRef(BaseModel):
    """A ready environment, as ``workspace.prepare_environment`` found or built it.

    ``key`` and ``path`` say what was prepared (for logs and comments); a run that passes the
    ref on hands over its ``setup_commands`` and ``timeout_seconds``: the environment is found
    again by the checkout's current key, so a ref from another worker, or from before a change
    to the dependency files, still works (that environment is then built by the test run).
    """

    key: str = Field(description="Hash of repository, commands, dependency files, toolchain")
    path: str | None = Field(
        description="Where it lives on the worker that prepared it; None: no environment"
    )
    built: bool = Field(description="False when an earlier build was reused")
    seconds: float = Field(description="Time spent building or finding it")
    commands: list[str] = Field(description="The setup commands, as configured or detected")
    setup_commands: list[str] | None = Field(
        default=None, description="As requested (None: detected), for a rebuild elsewhere"
    )
    timeout_seconds: int = Field(default=DEFAULT_SETUP_TIMEOUT_SECONDS, gt=0)

    def spec(self) -> EnvironmentSpec:
        return EnvironmentSpec(
            setup_commands=self.setup_commands, timeout_seconds=self.timeout_seconds
        )


class SetupFailure(BaseModel):
    """A setup command that failed or timed out: what the issue comment shows."""

    command: str
    exit_code: int | None = Field(description="None when it timed out")
    timed_out: bool = False
    output_tail: str = Field(description="The last part of its output")
    seconds: float

    @property
    def headline(self) -> str:
        how = "timed out" if self.timed_out else f"exited with {self.exit_code}"
        return f"Setup command `{self.command}` {how} after {self.seconds:.0f}s"

    def describe(self) -> str:
        """Markdown for a comment: the command, how it ended, and the tail of its output."""
        fence = "```"
        while fence in self.output_tail:
            fence += "`"
        return f"{self.headline}:\n\n{fence}\n{self.output_tail.rstrip()}\n{fence}"


class PrepareEnvironmentResult(BaseModel):
    """Exactly one of ``environment`` (ready) and ``failure`` (a setup command failed)."""

    environment: EnvironmentRef | None = None
    failure: SetupFailure | None = None

    @model_validator(mode="after")
    def _one(self) -> PrepareEnvironmentResult:
        if (self.environment is None) == (self.failure is None):
            raise ValueError("exactly one of environment and failure must be set")
        return self


class RunTestsInput(BaseModel):
    """Run ``command`` in the sandbox, with the environment's tools first on PATH.

    ``environment=None`` means the detected default (``EnvironmentSpec()``). An environment
    that is not ready for the checkout as it is now is built inside this call first; a setup
    command failing there makes a failed TestRun saying so.
    """

    workspace: WorkspaceRef
    command: str
    timeout_seconds: int = 600
    environment: EnvironmentRef | None = None


class DiffSummaryInput(BaseModel):
    workspace: WorkspaceRef
    max_diff_bytes: int = 60_000
