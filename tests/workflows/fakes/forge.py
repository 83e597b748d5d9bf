"""The forge side of the fake world: issue, repository, labels, comments and pull requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.forge import (
    CommentRef,
    EnsureLabelsInput,
    FindCommentInput,
    GetIssueInput,
    GetRepoInput,
    IssueComment,
    OpenPullRequestInput,
    PullRequestInfo,
    SetIssueLabelsInput,
    UpsertCommentInput,
)
from domain.issue import IssueInfo, RepoInfo


@dataclass
class FakeForge:
    """One open issue in ``o/r``; records labels, comments (by marker) and opened PRs."""

    archived: bool = False
    forge_down_for_pulls: bool = False  # opening the PR fails as a 503 would, every time
    labels_stay: bool = False  # taking in-progress off is refused (403), as a revoked right is
    comments: dict[str, str] = field(default_factory=dict)
    comment_writes: list[str] = field(default_factory=list)
    comment_creations: list[str] = field(default_factory=list)  # markers, when first posted
    labels: set[str] = field(default_factory=set)
    pulls: list[OpenPullRequestInput] = field(default_factory=list)
    human_comments: dict[int, IssueComment] = field(default_factory=dict)  # by comment id
    # Set: opening the PR waits for it (after setting ``pull_requested``), a slow forge.
    pull_lands: asyncio.Event | None = None
    pull_requested: asyncio.Event = field(default_factory=asyncio.Event)
    comment_writes_before_pull: int | None = None

    def forge_activities(self) -> list[Callable[..., Any]]:
        return [
            self.get_issue,
            self.get_repo,
            self.ensure_labels,
            self.set_issue_labels,
            self.upsert_comment,
            self.find_comment,
            self.open_pull_request,
        ]

    @activity.defn(name=names.GET_ISSUE)
    async def get_issue(self, input: GetIssueInput) -> IssueInfo:
        return IssueInfo(
            number=input.issue.number,
            title="Discount applied twice",
            body="Totals are too low.",
            state="open",
            labels=["autopilot"],
            html_url="http://forge.test/o/r/issues/1",
            author="alice",
        )

    @activity.defn(name=names.GET_REPO)
    async def get_repo(self, input: GetRepoInput) -> RepoInfo:
        return RepoInfo(
            full_name=input.repo.full_name,
            default_branch="main",
            clone_url="http://forge.test/o/r.git",
            html_url="http://forge.test/o/r",
            archived=self.archived,
        )

    @activity.defn(name=names.ENSURE_LABELS)
    async def ensure_labels(self, input: EnsureLabelsInput) -> None:
        return None

    @activity.defn(name=names.SET_ISSUE_LABELS)
    async def set_issue_labels(self, input: SetIssueLabelsInput) -> list[str]:
        if self.labels_stay and names.LABEL_IN_PROGRESS in input.remove:
            raise ApplicationError("403 forbidden", type=names.ERR_FORBIDDEN, non_retryable=True)
        self.labels |= set(input.add)
        self.labels -= set(input.remove)
        return sorted(self.labels)

    @activity.defn(name=names.UPSERT_COMMENT)
    async def upsert_comment(self, input: UpsertCommentInput) -> CommentRef:
        if self.archived:
            raise ApplicationError(
                "o/r is archived", type=names.ERR_REPO_ARCHIVED, non_retryable=True
            )
        created = input.marker not in self.comments
        self.comments[input.marker] = input.body
        self.comment_writes.append(input.marker)
        if created:
            self.comment_creations.append(input.marker)
        return CommentRef(id=len(self.comments), html_url="http://x", created=created)

    @activity.defn(name=names.FIND_COMMENT)
    async def find_comment(self, input: FindCommentInput) -> IssueComment | None:
        return self.human_comments.get(input.comment_id)

    @activity.defn(name=names.OPEN_PULL_REQUEST)
    async def open_pull_request(self, input: OpenPullRequestInput) -> PullRequestInfo:
        if self.forge_down_for_pulls:
            raise ApplicationError("Gitea POST /pulls: 503", type=names.ERR_FORGE_UNAVAILABLE)
        self.pull_requested.set()
        if self.pull_lands is not None:
            await self.pull_lands.wait()
        self.comment_writes_before_pull = len(self.comment_writes)
        self.pulls.append(input)
        return PullRequestInfo(number=7, html_url="http://forge.test/o/r/pulls/7", state="open")
