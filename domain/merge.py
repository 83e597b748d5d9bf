"""When Autopilot merges its own pull request: the per-repository policy and the rules.

Pure functions over what the forge reported (``PullVerdict``): a merge happens only when
every rule holds, and each rule that does not hold is named for the person reading the PR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # domain.cross_repo imports domain.run, which holds a MergePolicy
    from domain.cross_repo import PullVerdict

MergeMode = Literal["never", "when-approved"]
MergeStyle = Literal["merge", "rebase", "rebase-merge", "squash", "fast-forward-only"]
GREEN = "success"
DEFAULT_POLL_SECONDS = 300


class MergePolicy(BaseModel):
    """``merge:`` of a repository in repositories.yaml."""

    model_config = ConfigDict(extra="forbid")

    mode: MergeMode = Field(
        default="never", description="'never': a person merges; 'when-approved': Autopilot does"
    )
    style: MergeStyle = "merge"
    required_approvals: int = Field(
        default=1, ge=1, description="Distinct people with write access whose last review approves"
    )
    required_statuses: list[str] = Field(
        default_factory=list,
        description="Status contexts that must be 'success'; empty: every reported one must be",
    )
    delete_branch: bool = Field(default=True, description="Delete Autopilot's branch afterwards")
    poll_seconds: int = Field(
        default=DEFAULT_POLL_SECONDS, gt=0, description="How often the open PR is read again"
    )


def status_blockers(statuses: dict[str, str], required: list[str]) -> list[str]:
    """Status contexts that are not green; pending and missing are never green."""
    if required:
        return [
            f"status {context} is {statuses.get(context) or 'missing'}"
            for context in required
            if statuses.get(context) != GREEN
        ]
    return [
        f"status {context} is {state}"
        for context, state in sorted(statuses.items())
        if state != GREEN
    ]


def merge_blockers(verdict: PullVerdict, policy: MergePolicy) -> list[str]:
    """Why the PR may not merge now; empty when it may."""
    if verdict.merged:
        return ["it is merged already"]
    if verdict.state != "open":
        return ["it is closed"]
    blockers: list[str] = []
    if verdict.changes_requested_by:
        blockers.append("changes requested by " + ", ".join(verdict.changes_requested_by))
    approvals = len(verdict.approved_by)
    if approvals < policy.required_approvals:
        blockers.append(f"{approvals} of {policy.required_approvals} required approvals")
    if not verdict.mergeable:
        blockers.append("the forge reports it is not mergeable (conflicts with the base)")
    if not verdict.head_sha:
        blockers.append("the head commit is unknown")
    blockers.extend(status_blockers(verdict.statuses, policy.required_statuses))
    return blockers
