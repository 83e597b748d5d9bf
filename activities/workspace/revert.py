"""Undo a merged pull request: ``git revert`` of its merge commit on a new branch, pushed.

Idempotent: the revert commit carries an ``Autopilot-Revert:`` trailer naming the merge
commit, so a retry finds the commit it already pushed instead of reverting twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.workspace.checkout import Checkout, check_workspace_ref, clone_url_base
from activities.workspace.git import Git
from activities.workspace.paths import checkout_dir_name
from domain import names
from domain.cross_repo import REVERT_MERGE, RevertMergeInput, RevertResult
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
        trailer = f"{TRAILER}: {input.merge_commit_sha}"
        log = await git.run("log", "--format=%H%x00%B%x01", f"{checkout.base_ref}..HEAD")
        for entry in log.text.split("\x01"):
            sha, _, message = entry.strip().partition("\x00")
            if trailer in message.splitlines():
                return RevertResult(branch=ws.branch, sha=sha)
        if await checkout.rev(input.merge_commit_sha) is None:
            raise ApplicationError(
                f"commit {input.merge_commit_sha} is not on {input.base_branch}",
                type=names.ERR_NOT_FOUND,
                non_retryable=True,
            )
        merge_sha = input.merge_commit_sha
        parents = (await git.run("rev-list", "--parents", "-n", "1", merge_sha)).text
        # A merge commit is reverted against its first parent (the base branch before it).
        mainline = ["-m", "1"] if len(parents.split()) > 2 else []
        result = await git.run("revert", "--no-edit", *mainline, merge_sha, check=False)
        if result.returncode != 0:
            await git.run("revert", "--abort", check=False)
            raise ApplicationError(
                f"reverting {input.merge_commit_sha} conflicts with later changes on "
                f"{input.base_branch}; revert it by hand",
                type=names.ERR_INVALID_REQUEST,
                non_retryable=True,
            )
        message = (await git.run("log", "-1", "--format=%B")).text.rstrip()
        await git.run("commit", "--amend", "-q", "-m", f"{message}\n\n{trailer}")
        sha = await checkout.head()
        await checkout.push(sha)
        activity.logger.info("Pushed revert of %s on %s", input.merge_commit_sha, ws.branch)
        return RevertResult(branch=ws.branch, sha=sha)
