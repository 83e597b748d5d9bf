"""Real merges in the bare repository, by Gitea's merge styles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack.forge import git
from devstack.forge.respond import ApiError

STYLES = ("merge", "rebase", "rebase-merge", "squash", "fast-forward-only", "manually-merged")


@dataclass(frozen=True)
class MergeRequest:
    style: str
    base_branch: str
    head_branch: str
    head_sha: str
    title: str
    number: int
    message: str  # MergeTitleField (+ MergeMessageField); "" = Gitea's default


def default_message(req: MergeRequest) -> str:
    if req.style == "squash":
        return f"{req.title} (#{req.number})"
    return (
        f"Merge pull request '{req.title}' (#{req.number}) from {req.head_branch} "
        f"into {req.base_branch}"
    )


async def perform(repo: Path, req: MergeRequest, who: git.Signature) -> str:
    """Merge head into base and move the base branch; the new base tip's sha.

    Raises ApiError 409 on conflicts, or when the base moved while merging.
    """
    base_ref = f"refs/heads/{req.base_branch}"
    base_sha = await git.branch_sha(repo, req.base_branch)
    if base_sha is None:
        raise ApiError(409, f"base branch {req.base_branch!r} no longer exists")
    message = (req.message or default_message(req)).rstrip("\n") + "\n"
    if req.style == "fast-forward-only":
        if not await git.is_ancestor(repo, base_sha, req.head_sha):
            raise ApiError(409, "merge failed: the base branch cannot be fast-forwarded")
        new_sha = req.head_sha
    elif req.style in ("rebase", "rebase-merge"):
        upstream = await git.merge_base(repo, base_sha, req.head_sha)
        if upstream is None:
            raise ApiError(409, "merge failed: unrelated histories")
        rebased = await git.rebase(repo, base_sha, upstream, req.head_sha, who)
        if rebased is None:
            raise ApiError(409, "rebase failed because of conflict")
        new_sha = rebased
        if req.style == "rebase-merge":
            rebased_tree = await git.text(repo, "rev-parse", f"{rebased}^{{tree}}")
            parents = [base_sha, rebased]
            new_sha = await git.commit_tree(repo, rebased_tree, parents, message, who)
    else:
        merged_tree = await git.merge_tree(repo, base_sha, req.head_sha)
        if merged_tree is None:
            raise ApiError(409, "merge failed because of conflict")
        parents = [base_sha] if req.style == "squash" else [base_sha, req.head_sha]
        new_sha = await git.commit_tree(repo, merged_tree, parents, message, who)
    if not await git.update_ref(repo, base_ref, new_sha, base_sha):
        raise ApiError(409, "merge push out of date")
    return new_sha
