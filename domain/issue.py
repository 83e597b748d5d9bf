"""Repositories and issues on a forge, and the ids derived from them."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field

# Gitea owner and repository names: letters, digits, '-', '_' and '.'.
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class RepoRef(BaseModel):
    """A repository on one forge."""

    forge_url: str = Field(description="Base URL of the forge, e.g. https://gitea.example.com")
    owner: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def forge_host(self) -> str:
        return urlsplit(self.forge_url).netloc


ISSUE_BRANCH_PREFIX = "autopilot/issue-"


class IssueRef(BaseModel):
    """One issue of one repository."""

    repo: RepoRef
    number: int = Field(gt=0)

    @property
    def workflow_id(self) -> str:
        """The one IssueWorkflow id for this issue, whichever trigger starts it."""
        return issue_workflow_id(self)

    @property
    def branch(self) -> str:
        """The deterministic branch every run for this issue works on."""
        return f"{ISSUE_BRANCH_PREFIX}{self.number}"


def issue_of_branch(branch: str) -> int | None:
    """The issue whose run works on ``branch`` (``autopilot/issue-N``), if it is one."""
    number = branch.removeprefix(ISSUE_BRANCH_PREFIX)
    if number == branch or not number.isdigit() or number.startswith("0"):
        return None
    return int(number)


def issue_workflow_id(issue: IssueRef) -> str:
    return f"autopilot:{issue.repo.forge_host}:{issue.repo.owner}:{issue.repo.name}:{issue.number}"


def repo_of_workflow_id(workflow_id: str) -> str | None:
    """owner/name behind an issue workflow id (or a task's, ``<issue id>/task/<task>``)."""
    parts = workflow_id.split("/task/", 1)[0].split(":")
    if len(parts) < 5 or parts[0] != "autopilot":
        return None
    return f"{parts[-3]}/{parts[-2]}"


class IssueInfo(BaseModel):
    """What intake reads of an issue."""

    number: int
    title: str
    body: str
    state: str
    labels: list[str] = []
    html_url: str
    author: str


class RepoInfo(BaseModel):
    """What the workflows need to know of a repository."""

    full_name: str
    default_branch: str
    clone_url: str
    html_url: str
    archived: bool = False
