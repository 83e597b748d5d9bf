"""Inputs and outputs of the forge activities (the Gitea API)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.issue import IssueRef, RepoRef


class GetIssueInput(BaseModel):
    issue: IssueRef


class GetRepoInput(BaseModel):
    repo: RepoRef


class LabelSpec(BaseModel):
    name: str
    color: str = Field(default="5319e7", pattern=r"^#?[0-9a-fA-F]{6}$")
    description: str = ""


class EnsureLabelsInput(BaseModel):
    repo: RepoRef
    labels: list[LabelSpec]


class SetIssueLabelsInput(BaseModel):
    """Add and remove labels by name; labels to add must exist (see ensure_labels)."""

    issue: IssueRef
    add: list[str] = []
    remove: list[str] = []


class UpsertCommentInput(BaseModel):
    """Find the comment carrying ``<!-- autopilot:{marker} -->`` and edit it, or create it."""

    issue: IssueRef
    marker: str = Field(pattern=r"^[a-z0-9][a-z0-9:._-]*$")
    body: str


class FindCommentInput(BaseModel):
    """One comment of the issue by id (a comment command the run verifies)."""

    issue: IssueRef
    comment_id: int


class IssueComment(BaseModel):
    id: int
    author: str = Field(description="The forge's login of who wrote it")
    body: str


class CommentRef(BaseModel):
    id: int
    html_url: str
    created: bool = Field(description="True when this call created the comment")


class OpenPullRequestInput(BaseModel):
    """Find the open PR for head->base and update it, or create it."""

    repo: RepoRef
    head: str
    base: str
    title: str
    body: str


class PullRequestInfo(BaseModel):
    number: int
    html_url: str
    state: str
    merged: bool = False
    head_sha: str = ""
    created: bool = Field(default=False, description="True when this call created the PR")
