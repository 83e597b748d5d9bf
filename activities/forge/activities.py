"""Forge activities: the Gitea calls workflows make, each safe to retry.

Every write is find-then-change, so a retry after a crash between the write and the activity's
return finds its own earlier work instead of duplicating it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.forge.client import GiteaClient
from activities.forge.sections import keeping_section
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
from domain.issue import IssueInfo, RepoInfo, RepoRef
from domain.pull_body import marker_line


def with_marker(body: str, marker: str) -> str:
    return f"{body.rstrip()}\n\n{marker_line(marker)}"


def carries_marker(body: str, marker: str) -> bool:
    # A whole-line match: a quoted reply ("> <!-- ... -->") or a longer marker does not count.
    line = marker_line(marker)
    return any(candidate.strip() == line for candidate in body.splitlines())


# Removing a label races other runs' merges of duplicate labels (labels.py): check, again.
REMOVE_ROUNDS = 5
REMOVE_SETTLE_SECONDS = 0.2


class ForgeActivities:
    """Holds one pooled GiteaClient per forge, created on first use."""

    def __init__(
        self,
        token_for: Callable[[str], str],
        *,
        client_factory: Callable[[str, str], GiteaClient] = GiteaClient,
    ) -> None:
        """``token_for(base_url)`` supplies the API token of each forge."""
        self._token_for = token_for
        self._client_factory = client_factory
        self._clients: dict[str, GiteaClient] = {}

    def client_for(self, repo: RepoRef) -> GiteaClient:
        key = repo.forge_url.strip().rstrip("/")
        client = self._clients.get(key)
        if client is None:
            try:
                token = self._token_for(key)
            except LookupError:
                token = ""
            if not token:
                raise ApplicationError(
                    f"no API token is configured for forge {key}",
                    type=names.ERR_UNAUTHORIZED,
                    non_retryable=True,
                )
            try:
                client = self._client_factory(key, token)
            except ValueError as exc:
                raise ApplicationError(
                    str(exc), type=names.ERR_INVALID_REQUEST, non_retryable=True
                ) from None
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    @activity.defn(name=names.GET_ISSUE)
    async def get_issue(self, input: GetIssueInput) -> IssueInfo:
        repo = input.issue.repo
        issue = await self.client_for(repo).get_issue(repo.owner, repo.name, input.issue.number)
        return IssueInfo(
            number=issue.number,
            title=issue.title,
            body=issue.body,
            state=issue.state,
            labels=issue.label_names,
            html_url=issue.html_url,
            author=issue.user.login,
        )

    @activity.defn(name=names.FIND_COMMENT)
    async def find_comment(self, input: FindCommentInput) -> IssueComment | None:
        """The comment with that id on this issue; None when the issue has none such."""
        repo, number = input.issue.repo, input.issue.number
        comments = await self.client_for(repo).list_comments(repo.owner, repo.name, number)
        for comment in comments:
            if comment.id == input.comment_id and comment.user is not None:
                return IssueComment(id=comment.id, author=comment.user.login, body=comment.body)
        return None

    @activity.defn(name=names.GET_REPO)
    async def get_repo(self, input: GetRepoInput) -> RepoInfo:
        repo = await self.client_for(input.repo).get_repo(input.repo.owner, input.repo.name)
        return RepoInfo(
            full_name=repo.full_name,
            default_branch=repo.default_branch,
            clone_url=repo.clone_url,
            html_url=repo.html_url,
            archived=repo.archived,
        )

    @activity.defn(name=names.ENSURE_LABELS)
    async def ensure_labels(self, input: EnsureLabelsInput) -> None:
        repo = input.repo
        await self.client_for(repo).ensure_labels(repo.owner, repo.name, input.labels)

    @activity.defn(name=names.SET_ISSUE_LABELS)
    async def set_issue_labels(self, input: SetIssueLabelsInput) -> list[str]:
        """Add, then remove, labels by name; returns the issue's label names afterwards."""
        both = sorted(set(input.add) & set(input.remove))
        if both:
            raise ApplicationError(
                f"labels {both} are both added and removed",
                type=names.ERR_INVALID_REQUEST,
                non_retryable=True,
            )
        repo, number = input.issue.repo, input.issue.number
        client = self.client_for(repo)
        if input.add:
            await client.add_labels_by_name(repo.owner, repo.name, number, input.add)
        removed = set(input.remove)
        for _ in range(REMOVE_ROUNDS):
            for name in dict.fromkeys(input.remove):
                await client.remove_label(repo.owner, repo.name, number, name)
            labels = await client.list_issue_labels(repo.owner, repo.name, number)
            if not removed & {label.name for label in labels}:
                return [label.name for label in labels]
            # A racing run's merge of duplicate labels gave one back; it settles quickly.
            await asyncio.sleep(REMOVE_SETTLE_SECONDS)
        raise ApplicationError(
            f"labels {sorted(removed)} keep coming back on #{number}", type=names.ERR_FORGE_CONFLICT
        )

    @activity.defn(name=names.UPSERT_COMMENT)
    async def upsert_comment(self, input: UpsertCommentInput) -> CommentRef:
        """Edit the comment carrying ``marker``, or create it; extra copies are deleted.

        A create whose answer was lost or that landed after the client gave up (a slow forge)
        leaves a second copy that find-or-create could not see: the oldest copy is kept.
        """
        repo, number = input.issue.repo, input.issue.number
        client = self.client_for(repo)
        body = with_marker(input.body, input.marker)
        comments = await client.list_comments(repo.owner, repo.name, number)
        copies = [c for c in comments if carries_marker(c.body, input.marker)]
        if not copies:
            created = await client.create_comment(repo.owner, repo.name, number, body)
            return CommentRef(id=created.id, html_url=created.html_url, created=True)
        kept, *extra = sorted(copies, key=lambda c: c.id)
        for duplicate in extra:
            await client.delete_comment(repo.owner, repo.name, duplicate.id)
        if kept.body != body:
            kept = await client.edit_comment(repo.owner, repo.name, kept.id, body)
        return CommentRef(id=kept.id, html_url=kept.html_url, created=False)

    @activity.defn(name=names.OPEN_PULL_REQUEST)
    async def open_pull_request(self, input: OpenPullRequestInput) -> PullRequestInfo:
        repo = input.repo
        client = self.client_for(repo)
        pull = await client.find_open_pull(repo.owner, repo.name, input.head, input.base)
        created = False
        if pull is None:
            # A 409 here (another attempt got there first) comes back as that PR.
            pull, created = await client.create_or_find_pull(
                repo.owner, repo.name, input.head, input.base, input.title, input.body
            )
        # A cross-repo set's section in the body stays: only the set rewrites it.
        body = keeping_section(pull.body, input.body)
        if pull.title != input.title or pull.body != body:
            pull = await client.edit_pull(
                repo.owner, repo.name, pull.number, title=input.title, body=body
            )
        return PullRequestInfo(
            number=pull.number,
            html_url=pull.html_url,
            state=pull.state,
            merged=pull.merged,
            head_sha=pull.head.sha,
            created=created,
        )
