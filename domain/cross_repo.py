"""Cross-repository changes: one request carried to a set of PRs that merge together or not at all.

The ``CrossRepoWorkflow`` input, its human decisions, the status it reports, and the activity
models and names it calls (forge writes across repositories, and the git revert).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.budget import ModelRunSettings
from domain.issue import IssueRef, RepoRef
from domain.run import RepoSettings, RunSettings

# Activity names (called by name from the workflow, so it imports no I/O code).

# Error type of a merge the forge refused (405 not mergeable, 409 conflict): the gate fails.

Coordination = Literal["sequential", "parallel"]
OnFailure = Literal["hold", "compensate"]
Decision = Literal["compensate", "retry", "abandon"]
CrossRepoOutcome = Literal["running", "merged", "compensated", "abandoned", "failed", "cancelled"]
RepoStage = Literal[
    "waiting",  # for its dependencies (sequential) or not started yet
    "running",  # its IssueWorkflow is carrying the linked issue
    "pr_open",  # PR opened, waiting for approval / green
    "ready",  # approved and green
    "merged",
    "failed",  # the child failed, the PR was closed or changes were requested
    "cancelled",  # stopped because a sibling failed
    "closed",  # compensated: PR closed, branch deleted
    "reverted",  # compensated: a revert PR undoes its merge
]
Verdict = Literal["pending", "approved", "changes_requested", "closed"]

LINK_MARKER_PREFIX = "linked:"  # the line is <!-- autopilot:linked:owner/repo#n -->
PULL_SECTION_MARKER = "cross-repo"


def link_marker(trigger: IssueRef) -> str:
    """The hidden marker naming the trigger issue, found again on a retry."""
    return f"{LINK_MARKER_PREFIX}{trigger.repo.full_name}#{trigger.number}"


def cross_repo_key(workflow_name: str, trigger: IssueRef) -> str:
    """The ``CrossRepo`` search attribute: one value for the parent and every child."""
    return f"{workflow_name}:{trigger.repo.full_name}#{trigger.number}"


def cross_repo_workflow_id(workflow_name: str, trigger: IssueRef) -> str:
    repo = trigger.repo
    return (
        f"autopilot-cross:{workflow_name}:{repo.forge_host}:{repo.owner}:{repo.name}:"
        f"{trigger.number}"
    )


class CrossRepoTarget(BaseModel):
    """One repository of the set, with what its IssueWorkflow child needs."""

    name: str = Field(description="The repository's key in repositories.yaml")
    repo: RepoRef
    default_branch: str = "main"
    depends_on: list[str] = Field(
        default_factory=list, description="Names in the set this one merges after"
    )
    repo_settings: RepoSettings = Field(default_factory=RepoSettings)
    settings: RunSettings = Field(default_factory=RunSettings)
    model: ModelRunSettings | None = None


class CrossRepoInput(BaseModel):
    workflow_name: str
    trigger: IssueRef
    targets: list[CrossRepoTarget] = Field(min_length=1)
    coordination: Coordination = "sequential"
    on_failure: OnFailure = "hold"
    poll_seconds: int = Field(default=60, gt=0, description="First forge poll interval")
    max_poll_seconds: int = Field(default=900, gt=0, description="Poll backoff cap")
    needs_human_grace_seconds: int = Field(
        default=3600, ge=0, description="A child waiting for a human this long fails the set"
    )
    merge_style: Literal["merge", "squash", "rebase"] = "merge"


class CrossRepoDecision(BaseModel):
    """A person's answer to a held set (signals ``compensate``, ``retry``, ``abandon``)."""

    by: str = ""
    reason: str = ""


class RepoProgress(BaseModel):
    name: str
    repo: str
    stage: RepoStage = "waiting"
    issue_number: int | None = None
    issue_url: str | None = None
    child_workflow_id: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    verdict: Verdict = "pending"
    green: bool = False
    merged: bool = False
    revert_pr_url: str | None = None
    revert_merged: bool = Field(default=False, description="Its revert PR is merged")
    merge_commit_sha: str | None = Field(default=None, description="What a revert undoes")
    error: str | None = None


class CrossRepoStatus(BaseModel):
    """What the ``status`` query answers."""

    workflow_name: str
    coordination: Coordination
    phase: Literal["linking", "running", "merging", "held", "compensating", "done"] = "linking"
    outcome: CrossRepoOutcome = "running"
    waiting_for: str | None = Field(default=None, description="e.g. 'approval', 'decision'")
    order: list[str] = Field(default_factory=list, description="Dependency (merge) order")
    repos: dict[str, RepoProgress] = Field(default_factory=dict)
    failure: str | None = None
    partial_merge: list[str] = Field(
        default_factory=list, description="Repositories merged when the gate failed mid-way"
    )


class CrossRepoResult(BaseModel):
    outcome: CrossRepoOutcome
    status: CrossRepoStatus


# ----- activity inputs and outputs ------------------------------------------------------------


class EnsureLinkedIssueInput(BaseModel):
    trigger: IssueRef
    repo: RepoRef
    title: str
    body: str


class LinkedIssue(BaseModel):
    number: int
    html_url: str
    created: bool


class PullRef(BaseModel):
    repo: RepoRef
    number: int


class PullVerdict(BaseModel):
    """What the gate needs of one PR, read from the forge."""

    state: str
    merged: bool
    approved_by: list[str] = Field(default_factory=list, description="Not the bot itself")
    changes_requested_by: list[str] = Field(default_factory=list)
    combined_status: str = Field(default="", description="'' when no status was reported")
    head_branch: str = ""
    merge_commit_sha: str | None = None
    needs_human: bool = Field(default=False, description="The linked issue asks for a human")
    mergeable: bool = Field(default=False, description="The forge could merge it without conflict")
    head_sha: str = Field(default="", description="The head the statuses and reviews were read at")
    statuses: dict[str, str] = Field(
        default_factory=dict, description="Latest state per status context of the head"
    )
    stale_change_requests: list[str] = Field(
        default_factory=list, description="Of changes_requested_by: given on an older head"
    )

    @property
    def approved(self) -> bool:
        return bool(self.approved_by) and not self.changes_requested_by

    @property
    def status_ok(self) -> bool:
        return self.combined_status not in ("failure", "error")


class PullVerdictInput(BaseModel):
    pull: PullRef | None = None
    issue: IssueRef | None = Field(default=None, description="Linked issue, for needs-human")
    writers_only: bool = Field(
        default=False, description="Count only reviews of people with write access"
    )


class UpdatePullSectionInput(BaseModel):
    pull: PullRef
    section: str = Field(description="Markdown replacing the marked section of the PR body")
    marker: str = Field(
        default=PULL_SECTION_MARKER, description="Which section (domain.pull_body); one writer each"
    )


class MergePullInput(BaseModel):
    pull: PullRef
    style: Literal["merge", "squash", "rebase", "rebase-merge", "fast-forward-only"] = "merge"
    title: str = ""
    head_sha: str = Field(default="", description="Refuse when the head moved past this commit")


class MergeOutcome(BaseModel):
    merged: bool
    merge_commit_sha: str | None = None


class ClosePullInput(BaseModel):
    pull: PullRef
    comment: str
    delete_branch: bool = True


class DeleteBranchInput(BaseModel):
    repo: RepoRef
    branch: str
    close_pulls_comment: str = Field(
        default="",
        description="When set, open PRs from the branch are first closed with this comment: "
        "a run cancelled just after opening its PR never reported the number",
    )
    with_task_branches: bool = Field(
        default=True, description="Also '<branch>-task-*', the plan tasks' own branches"
    )


class RevertMergeInput(BaseModel):
    repo: RepoRef
    clone_url: str
    base_branch: str
    merge_commit_sha: str
    branch: str = Field(description="The revert branch, e.g. autopilot/revert-<pr>")
    key: str = Field(description="Stable checkout name")


class RevertResult(BaseModel):
    branch: str
    sha: str
