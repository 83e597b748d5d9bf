"""Inputs and outputs of the workspace activities (git and test runs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.change import EditSet
from domain.issue import RepoRef


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


class RunTestsInput(BaseModel):
    workspace: WorkspaceRef
    command: str
    timeout_seconds: int = 600


class DiffSummaryInput(BaseModel):
    workspace: WorkspaceRef
    max_diff_bytes: int = 60_000
