"""Edits proposed by a model, and what applying and testing them produced."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FileEdit(BaseModel):
    """One file the model wants written (whole new content) or deleted."""

    path: str = Field(min_length=1, description="Path relative to the repository root")
    action: Literal["write", "delete"] = "write"
    content: str | None = Field(default=None, description="Full new file content for 'write'")


class EditSet(BaseModel):
    """A model's answer for one task or fix: the edits and a commit message."""

    summary: str = Field(min_length=1)
    commit_message: str = Field(min_length=1, max_length=500)
    edits: list[FileEdit] = Field(min_length=1, max_length=100)


class CommitInfo(BaseModel):
    sha: str
    changed: bool = Field(description="False when the edits changed nothing (no new commit)")
    files: list[str] = []


class TestRun(BaseModel):
    passed: bool
    exit_code: int | None = Field(description="None when the run timed out")
    timed_out: bool = False
    duration_seconds: float
    output_tail: str = Field(description="The last part of stdout+stderr, for the model and people")


class DiffSummary(BaseModel):
    base_sha: str
    head_sha: str
    files: list[str]
    additions: int
    deletions: int
    diff: str = Field(description="Unified diff, truncated to a size limit")
    truncated: bool = False
