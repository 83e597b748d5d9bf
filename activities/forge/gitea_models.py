"""The parts of Gitea's API responses Autopilot reads (spec ``#/definitions/...``).

Only the fields we use are declared; everything else is ignored so newer servers that add
keys keep working. Fields Gitea may send as ``null`` have defaults.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


def _none_to_empty(value: Any) -> Any:
    return [] if value is None else value


# Go's nil slices arrive as ``null`` (e.g. ``statuses`` with no statuses).
NullableList = Annotated[list[T], BeforeValidator(_none_to_empty)]


class GiteaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ServerVersion(GiteaModel):
    version: str


class User(GiteaModel):
    id: int
    login: str
    full_name: str = ""
    email: str = ""
    is_admin: bool = False


class RepoPermissions(GiteaModel):
    admin: bool = False
    push: bool = False
    pull: bool = False


# Gitea's AccessMode strings that allow pushing to the repository.
WRITE_ACCESS_MODES = frozenset({"write", "admin", "owner"})


class RepoCollaboratorPermission(GiteaModel):
    """A user's access mode on a repository: none, read, write, admin or owner."""

    permission: str
    role_name: str = ""
    user: User | None = None

    @property
    def can_write(self) -> bool:
        return self.permission in WRITE_ACCESS_MODES


class Repository(GiteaModel):
    id: int
    name: str
    full_name: str
    owner: User
    default_branch: str = ""
    private: bool = False
    html_url: str = ""
    clone_url: str = ""
    archived: bool = False
    empty: bool = False
    permissions: RepoPermissions | None = None


class BranchCommit(GiteaModel):
    id: str = Field(description="The commit sha")
    message: str = ""


class Branch(GiteaModel):
    name: str
    commit: BranchCommit
    protected: bool = False


class Label(GiteaModel):
    id: int
    name: str
    color: str = Field(description="Hex colour without the leading '#'")
    description: str = ""
    exclusive: bool = False


class IssuePullMeta(GiteaModel):
    merged: bool = False
    html_url: str = ""


class Issue(GiteaModel):
    id: int
    number: int
    title: str
    body: str = ""
    state: str
    html_url: str = ""
    user: User
    labels: NullableList[Label] = []
    pull_request: IssuePullMeta | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


class Comment(GiteaModel):
    id: int
    body: str = ""
    html_url: str = ""
    user: User | None = None


class ContentsResponse(GiteaModel):
    type: str
    name: str
    path: str
    sha: str
    size: int = 0
    encoding: str | None = None
    content: str | None = None

    def decoded(self) -> bytes:
        """The file bytes; only files carry base64 content."""
        if self.type != "file" or self.content is None:
            raise ValueError(f"{self.path} is a {self.type}, not a file with content")
        return base64.b64decode(self.content)


class PRBranchInfo(GiteaModel):
    label: str = ""
    ref: str
    sha: str = ""
    repo_id: int = 0


class PullRequest(GiteaModel):
    id: int
    number: int
    title: str
    body: str = ""
    state: str
    html_url: str = ""
    draft: bool = False
    mergeable: bool = False
    merged: bool = False
    merge_commit_sha: str | None = None
    head: PRBranchInfo
    base: PRBranchInfo
    user: User | None = None


class PullReview(GiteaModel):
    id: int
    state: str
    body: str = ""
    commit_id: str = ""
    user: User | None = None
    stale: bool = Field(default=False, description="The head moved past commit_id")
    official: bool = False
    dismissed: bool = False
    comments_count: int = 0
    submitted_at: datetime | None = None


class PullReviewComment(GiteaModel):
    """A line comment of a review (spec ``PullReviewComment``)."""

    id: int
    body: str = ""
    path: str = ""
    position: int = Field(default=0, description="Line in the new file; 0 for the old side")
    original_position: int = 0
    commit_id: str = ""
    pull_request_review_id: int = 0
    user: User | None = None


class CommitStatus(GiteaModel):
    id: int
    # Gitea answers with ``status`` although the request field is ``state``.
    status: str
    context: str = ""
    description: str = ""
    target_url: str = ""


class CombinedStatus(GiteaModel):
    state: str
    sha: str
    total_count: int = 0
    statuses: NullableList[CommitStatus] = []
