"""Undo a merged pull request: ``git revert`` of its merge commit on a new branch, pushed.

Idempotent: the revert commit carries an ``Autopilot-Revert:`` trailer naming the merge
commit, so a retry finds the commit it already pushed (on the revert branch, or on the base
branch once the revert PR has landed) instead of reverting twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.workspace.checkout import Checkout, check_workspace_ref, clone_url_base
from activities.workspace.git import Git, GitError, GitResult
from activities.workspace.paths import checkout_dir_name
from domain import names
from domain.cross_repo import RevertMergeInput, RevertResult
from domain.names import REVERT_MERGE
from domain.workspace import WorkspaceRef

TRAILER = "Autopilot-Revert"


class RevertActivities:
    """Owns revert checkouts under ``root``; ``token_for(clone_url_base)`` gives credentials."""

    def __init__(
        self,
        root: Path,
        token_for: Callable[[str], str | None],
        git_author: tuple[str, str] = ("Autopilot", "autopilot@localhost"),
    ) -> None:
        self._root = root
        self._token_for = token_for
        self._git_author = git_author

    @activity.defn(name=REVERT_MERGE)
    async def revert_merge(self, input: RevertMergeInput) -> RevertResult:
        ws = WorkspaceRef(
            repo=input.repo,
            clone_url=input.clone_url,
            base_branch=input.base_branch,
            branch=input.branch,
            key=input.key,
        )
        check_workspace_ref(ws)
        token = None
        if urlsplit(ws.clone_url).scheme in ("http", "https"):
            token = self._token_for(clone_url_base(ws.clone_url))
        path = self._root / checkout_dir_name(ws.key)
        self._root.mkdir(parents=True, exist_ok=True)
        checkout = Checkout(ws, path, Git(checkout=path, token=token, author=self._git_author))
        await checkout.ensure(keep_unpushed=False)
        git = checkout.git
        merged = await checkout.rev(input.merge_commit_sha)
        # Only the base branch (and the revert branch) are fetched; an ancestor check also
        # refuses a commit a force-push removed from the base branch.
        if merged is None or not await checkout.is_ancestor(merged, checkout.base_ref):
            raise ApplicationError(
                f"commit {input.merge_commit_sha} is not on {input.base_branch}",
                type=names.ERR_NOT_FOUND,
                non_retryable=True,
            )
        trailer = f"{TRAILER}: {input.merge_commit_sha}"
        earlier = await _find_revert(git, trailer, merged, checkout.base_ref)
        if earlier is not None:
            return RevertResult(branch=ws.branch, sha=earlier)
        parents = (await git.run("rev-list", "--parents", "-n", "1", merged)).text
        # A merge commit is reverted against its first parent (the base branch before it);
        # a squash or fast-forward merge is one plain commit.
        mainline = ["-m", "1"] if len(parents.split()) > 2 else []
        result = await git.run("revert", "--no-edit", *mainline, merged, check=False)
        if result.returncode != 0:
            raise await _revert_failed(git, input, result)
        message = (await git.run("log", "-1", "--format=%B")).text.rstrip()
        await git.run("commit", "--amend", "-q", "-m", f"{message}\n\n{trailer}")
        sha = await checkout.head()
        await checkout.push(sha)
        activity.logger.info("Pushed revert of %s on %s", input.merge_commit_sha, ws.branch)
        return RevertResult(branch=ws.branch, sha=sha)


async def _find_revert(git: Git, trailer: str, merged: str, base_ref: str) -> str | None:
    """The commit after ``merged`` on the work branch or the base branch carrying ``trailer``."""
    log = await git.run(
        "log", "--format=%H%x00%B%x01", "--fixed-strings", f"--grep={trailer}",
        "HEAD", base_ref, f"^{merged}",
    )  # fmt: skip
    for entry in log.text.split("\x01"):
        sha, _, message = entry.strip().partition("\x00")
        if trailer in message.splitlines():
            return sha
    return None


async def _revert_failed(git: Git, input: RevertMergeInput, result: GitResult) -> Exception:
    """Why ``git revert`` stopped, after putting the checkout back as it was."""
    conflicted = (await git.run("ls-files", "--unmerged")).text.strip()
    dirty = (await git.run("status", "--porcelain")).text.strip()
    await git.run("revert", "--abort", check=False)
    if conflicted:
        return ApplicationError(
            f"reverting {input.merge_commit_sha} conflicts with later changes on "
            f"{input.base_branch}; revert it by hand",
            type=names.ERR_INVALID_REQUEST,
            non_retryable=True,
        )
    if not dirty:
        return ApplicationError(
            f"{input.base_branch} no longer holds the changes of {input.merge_commit_sha}: "
            "nothing left to revert",
            type=names.ERR_INVALID_REQUEST,
            non_retryable=True,
        )
    stderr = git.scrub(result.stderr.decode("utf-8", errors="replace").strip())[-2000:]
    return GitError(f"git revert {input.merge_commit_sha} failed ({result.returncode}): {stderr}")
