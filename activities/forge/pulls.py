"""The pull-request half of the Gitea client: PRs, merges, reviews and commit statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from activities.forge import operations as ops
from activities.forge.errors import GiteaError
from activities.forge.gitea_models import (
    CombinedStatus,
    CommitStatus,
    PullRequest,
    PullReview,
    PullReviewComment,
)
from activities.forge.pagination import Params
from activities.forge.session import ApiSession
from domain.names import ERR_FORGE_CONFLICT

IssueState = Literal["open", "closed"]
ListState = Literal["open", "closed", "all"]
MergeStyle = Literal[
    "merge", "rebase", "rebase-merge", "squash", "fast-forward-only", "manually-merged"
]
ReviewEvent = Literal["APPROVED", "REQUEST_CHANGES", "COMMENT", "PENDING"]
StatusState = Literal["pending", "success", "error", "failure", "warning", "skipped"]


class PullRequestApi(ApiSession):
    """Mixed into ``GiteaClient``; ``_lowercase_merge_fields`` is set by its constructor."""

    _lowercase_merge_fields: bool = False

    # -- pull requests --------------------------------------------------------------------

    async def list_pulls(
        self, owner: str, repo: str, *, state: ListState = "open", base: str | None = None
    ) -> list[PullRequest]:
        params: Params = {"state": state}
        if base is not None:
            params["base_branch"] = base
        return await self._collect(
            ops.LIST_PULLS, PullRequest, params=params, owner=owner, repo=repo
        )

    async def find_open_pull(
        self, owner: str, repo: str, head: str, base: str
    ) -> PullRequest | None:
        """The open PR from ``head`` into ``base``; Gitea allows at most one."""
        for pull in await self.list_pulls(owner, repo, state="open", base=base):
            if pull.base.ref == base and head in (pull.head.ref, pull.head.label):
                return pull
        return None

    async def get_pull(self, owner: str, repo: str, index: int) -> PullRequest:
        return await self._one(ops.GET_PULL, PullRequest, owner=owner, repo=repo, index=index)

    async def create_or_find_pull(
        self, owner: str, repo: str, head: str, base: str, title: str, body: str = ""
    ) -> tuple[PullRequest, bool]:
        """Open a PR; on 409 (one already open for head->base) return that one.

        The flag is True when this call created the PR.
        """
        payload = {"head": head, "base": base, "title": title, "body": body}
        try:
            created = await self._one(
                ops.CREATE_PULL, PullRequest, json=payload, owner=owner, repo=repo
            )
        except GiteaError as exc:
            if exc.type != ERR_FORGE_CONFLICT:
                raise
            existing = await self.find_open_pull(owner, repo, head, base)
            if existing is None:
                raise
            return existing, False
        return created, True

    async def create_pull(
        self, owner: str, repo: str, head: str, base: str, title: str, body: str = ""
    ) -> PullRequest:
        return (await self.create_or_find_pull(owner, repo, head, base, title, body))[0]

    async def edit_pull(
        self,
        owner: str,
        repo: str,
        index: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
        base: str | None = None,
    ) -> PullRequest:
        fields = (("title", title), ("body", body), ("state", state), ("base", base))
        payload = {key: value for key, value in fields if value is not None}
        return await self._one(
            ops.EDIT_PULL, PullRequest, json=payload, owner=owner, repo=repo, index=index
        )

    async def merge_pull(
        self,
        owner: str,
        repo: str,
        index: int,
        style: MergeStyle = "merge",
        *,
        title: str | None = None,
        message: str | None = None,
        delete_branch: bool = False,
        head_commit_id: str | None = None,
    ) -> None:
        """Merge; with ``head_commit_id`` Gitea refuses (409) when the head moved past it."""
        lower = self._lowercase_merge_fields
        payload: dict[str, Any] = {"do" if lower else "Do": style}
        if head_commit_id:
            payload["head_commit_id"] = head_commit_id
        if title is not None:
            payload["merge_title_field" if lower else "MergeTitleField"] = title
        if message is not None:
            payload["merge_message_field" if lower else "MergeMessageField"] = message
        if delete_branch:
            payload["delete_branch_after_merge"] = True
        await self._send(ops.MERGE_PULL, json=payload, owner=owner, repo=repo, index=index)

    async def is_merged(self, owner: str, repo: str, index: int) -> bool:
        """Gitea answers 204 when merged and 404 when not."""
        return await self._found(ops.IS_MERGED, owner=owner, repo=repo, index=index)

    # -- reviews --------------------------------------------------------------------------

    async def list_reviews(self, owner: str, repo: str, index: int) -> list[PullReview]:
        return await self._collect(
            ops.LIST_REVIEWS, PullReview, owner=owner, repo=repo, index=index
        )

    async def list_review_comments(
        self, owner: str, repo: str, index: int, review_id: int
    ) -> list[PullReviewComment]:
        """The line comments of one review; Gitea does not paginate this endpoint."""
        return await self._many(
            ops.LIST_REVIEW_COMMENTS,
            PullReviewComment,
            owner=owner,
            repo=repo,
            index=index,
            id=review_id,
        )

    async def create_review(
        self,
        owner: str,
        repo: str,
        index: int,
        event: ReviewEvent,
        body: str = "",
        *,
        commit_id: str | None = None,
        comments: Sequence[Mapping[str, Any]] = (),
    ) -> PullReview:
        """Submit a review; Gitea answers 200 (not 201)."""
        payload: dict[str, Any] = {"event": event, "body": body}
        if commit_id is not None:
            payload["commit_id"] = commit_id
        if comments:
            payload["comments"] = [dict(comment) for comment in comments]
        return await self._one(
            ops.CREATE_REVIEW, PullReview, json=payload, owner=owner, repo=repo, index=index
        )

    # -- commit statuses ------------------------------------------------------------------

    async def create_status(
        self,
        owner: str,
        repo: str,
        sha: str,
        state: StatusState,
        context: str,
        *,
        description: str = "",
        target_url: str = "",
    ) -> CommitStatus:
        payload = {"state": state, "context": context, "description": description}
        if target_url:
            payload["target_url"] = target_url
        return await self._one(
            ops.CREATE_STATUS, CommitStatus, json=payload, owner=owner, repo=repo, sha=sha
        )

    async def list_statuses(self, owner: str, repo: str, sha: str) -> list[CommitStatus]:
        return await self._collect(ops.LIST_STATUSES, CommitStatus, owner=owner, repo=repo, sha=sha)

    async def combined_status(self, owner: str, repo: str, ref: str) -> CombinedStatus:
        return await self._one(ops.COMBINED_STATUS, CombinedStatus, owner=owner, repo=repo, ref=ref)
