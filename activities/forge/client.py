"""A typed async client for the parts of the Gitea 1.25 REST API Autopilot uses.

One pooled ``httpx.AsyncClient`` per instance (see ``session.py``). Failures are raised as
``GiteaError`` (see ``errors.py``): retryable for transient faults, typed and non-retryable
otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import httpx

from activities.forge import operations as ops
from activities.forge.errors import GiteaError
from activities.forge.gitea_models import (
    Branch,
    Comment,
    ContentsResponse,
    Issue,
    RepoCollaboratorPermission,
    Repository,
    ServerVersion,
    User,
)
from activities.forge.labels import LabelApi
from activities.forge.operations import CLIENT_OPERATIONS
from activities.forge.pagination import Params
from activities.forge.pulls import IssueState, ListState, MergeStyle, PullRequestApi
from activities.forge.session import DEFAULT_TIMEOUT
from domain import names

__all__ = ["CLIENT_OPERATIONS", "DEFAULT_TIMEOUT", "GiteaClient", "ListState", "MergeStyle"]


class GiteaClient(LabelApi, PullRequestApi):
    """Gitea REST client. ``base_url`` is the forge root, e.g. ``https://gitea.example.com``.

    ``lowercase_merge_fields`` sends ``do``/``merge_title_field``/... as the 1.27 spec spells
    them; 1.25 binds the Go field names (``Do``, ``MergeTitleField``).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        lowercase_merge_fields: bool = False,
    ) -> None:
        super().__init__(base_url, token, timeout=timeout, transport=transport)
        self._lowercase_merge_fields = lowercase_merge_fields

    # -- server and user ------------------------------------------------------------------

    async def version(self) -> str:
        return (await self._one(ops.VERSION, ServerVersion)).version

    async def current_user(self) -> User:
        return await self._one(ops.CURRENT_USER, User)

    # -- repositories and branches --------------------------------------------------------

    async def get_repo(self, owner: str, repo: str) -> Repository:
        return await self._one(ops.GET_REPO, Repository, owner=owner, repo=repo)

    async def get_permission(self, owner: str, repo: str, user: str) -> RepoCollaboratorPermission:
        """``user``'s access mode on the repository.

        Gitea answers 403 unless the caller is a site admin, a repository admin or ``user``.
        """
        return await self._one(
            ops.GET_PERMISSION,
            RepoCollaboratorPermission,
            owner=owner,
            repo=repo,
            collaborator=user,
        )

    async def list_branches(self, owner: str, repo: str) -> list[Branch]:
        return await self._collect(ops.LIST_BRANCHES, Branch, owner=owner, repo=repo)

    async def get_branch(self, owner: str, repo: str, branch: str) -> Branch:
        return await self._one(ops.GET_BRANCH, Branch, owner=owner, repo=repo, branch=branch)

    async def create_branch(
        self, owner: str, repo: str, new_branch: str, from_ref: str | None = None
    ) -> Branch:
        """Create ``new_branch`` from ``from_ref`` (default branch when None); 409 if it exists."""
        body: dict[str, str] = {"new_branch_name": new_branch}
        if from_ref is not None:
            body["old_ref_name"] = from_ref
        return await self._one(ops.CREATE_BRANCH, Branch, json=body, owner=owner, repo=repo)

    async def delete_branch(self, owner: str, repo: str, branch: str) -> bool:
        """Delete ``branch``; False when it was already gone (404). Gitea answers 204."""
        return await self._found(ops.DELETE_BRANCH, owner=owner, repo=repo, branch=branch)

    async def get_contents(
        self, owner: str, repo: str, filepath: str, ref: str | None = None
    ) -> ContentsResponse:
        """One file's metadata and base64 content (``.decoded()``); directories are refused."""
        op = ops.GET_CONTENTS
        params = {"ref": ref} if ref else None
        path = filepath.strip("/")
        response = await self._send(op, params=params, owner=owner, repo=repo, filepath=path)
        data = self._get_json(op, response)
        if isinstance(data, list):
            raise GiteaError(
                f"Gitea {op.method} contents of {owner}/{repo}:{path} is a directory, not a file",
                type=names.ERR_INVALID_REQUEST,
                non_retryable=True,
            )
        return self._parse(op, ContentsResponse, data)

    # -- issues ---------------------------------------------------------------------------

    async def get_issue(self, owner: str, repo: str, index: int) -> Issue:
        return await self._one(ops.GET_ISSUE, Issue, owner=owner, repo=repo, index=index)

    async def list_issues(
        self,
        owner: str,
        repo: str,
        *,
        state: ListState = "open",
        labels: Sequence[str] = (),
        kind: Literal["issues", "pulls"] | None = "issues",
    ) -> list[Issue]:
        """Issues of a repo; ``kind=None`` includes pull requests as Gitea does by default."""
        params: Params = {"state": state}
        if labels:
            params["labels"] = ",".join(labels)
        if kind is not None:
            params["type"] = kind
        return await self._collect(ops.LIST_ISSUES, Issue, params=params, owner=owner, repo=repo)

    async def create_issue(
        self, owner: str, repo: str, title: str, body: str = "", label_ids: Sequence[int] = ()
    ) -> Issue:
        payload: dict[str, Any] = {"title": title, "body": body}
        if label_ids:
            payload["labels"] = list(label_ids)
        return await self._one(ops.CREATE_ISSUE, Issue, json=payload, owner=owner, repo=repo)

    async def edit_issue(
        self,
        owner: str,
        repo: str,
        index: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: IssueState | None = None,
    ) -> Issue:
        """Change the given fields; ``state="closed"`` closes the issue. Gitea answers 201."""
        fields = (("title", title), ("body", body), ("state", state))
        payload = {key: value for key, value in fields if value is not None}
        return await self._one(
            ops.EDIT_ISSUE, Issue, json=payload, owner=owner, repo=repo, index=index
        )

    # -- comments -------------------------------------------------------------------------

    async def list_comments(self, owner: str, repo: str, index: int) -> list[Comment]:
        """All plain comments of an issue; Gitea does not paginate this endpoint."""
        return await self._many(ops.LIST_COMMENTS, Comment, owner=owner, repo=repo, index=index)

    async def create_comment(self, owner: str, repo: str, index: int, body: str) -> Comment:
        return await self._one(
            ops.CREATE_COMMENT, Comment, json={"body": body}, owner=owner, repo=repo, index=index
        )

    async def edit_comment(self, owner: str, repo: str, comment_id: int, body: str) -> Comment:
        response = await self._send(
            ops.EDIT_COMMENT, json={"body": body}, owner=owner, repo=repo, id=comment_id
        )
        if response.status_code == 204:
            # Gitea answers 204 without a body in some cases; read the comment back.
            return await self._one(ops.GET_COMMENT, Comment, owner=owner, repo=repo, id=comment_id)
        return self._parse(ops.EDIT_COMMENT, Comment, self._get_json(ops.EDIT_COMMENT, response))

    async def delete_comment(self, owner: str, repo: str, comment_id: int) -> bool:
        """Delete a comment; False when it was already gone (404). Gitea answers 204."""
        return await self._found(ops.DELETE_COMMENT, owner=owner, repo=repo, id=comment_id)
