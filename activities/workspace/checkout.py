"""One local checkout of a workspace branch: a cache of what the forge holds, rebuilt at will."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from temporalio.exceptions import ApplicationError

from activities.workspace.git import Git, GitError
from domain import names
from domain.workspace import WorkspaceRef

_SCHEMES = ("http", "https", "file")


def clone_url_base(clone_url: str) -> str:
    """``scheme://host[:port]`` of a clone URL: what ``token_for`` is asked about."""
    parts = urlsplit(clone_url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def check_workspace_ref(ws: WorkspaceRef) -> None:
    """Refuses clone URLs and branch names that could not be used safely."""
    parts = urlsplit(ws.clone_url)
    if parts.scheme not in _SCHEMES:
        _invalid(f"clone URL must use one of {', '.join(_SCHEMES)}, not {parts.scheme or 'none'!r}")
    if parts.password is not None:
        _invalid("clone URL must not embed credentials")
    for label, branch in (("branch", ws.branch), ("base branch", ws.base_branch)):
        if not branch or branch.startswith("-") or any(c in branch for c in "\x00\n\r"):
            _invalid(f"{label} {branch!r} is not a valid branch name")
    if ws.branch == ws.base_branch:
        _invalid("the work branch must differ from the base branch")


def _invalid(message: str) -> None:
    raise ApplicationError(message, type=names.ERR_INVALID_REQUEST, non_retryable=True)


class Checkout:
    """The checkout of ``ws`` at ``path``; every method runs git in it."""

    def __init__(self, ws: WorkspaceRef, path: Path, git: Git) -> None:
        self.ws = ws
        self.path = path
        self.git = git
        self.base_ref = f"refs/remotes/origin/{ws.base_branch}"
        self.remote_ref = f"refs/remotes/origin/{ws.branch}"

    async def ensure(self, *, keep_unpushed: bool) -> None:
        """Makes the checkout exist, fetched and clean, on the work branch.

        The branch is at the forge's tip if the forge has it, else at the base branch tip.
        With ``keep_unpushed``, local commits that only add to that tip are kept (a retried
        apply must find and push its own commit). A checkout broken locally is rebuilt once.
        """
        await self._check_ref_names()
        for attempt in (1, 2):
            await self._init()
            await self._fetch()
            try:
                await self._switch(keep_unpushed)
                return
            except GitError:
                if attempt == 2:
                    raise
                shutil.rmtree(self.path, ignore_errors=True)

    async def _check_ref_names(self) -> None:
        for branch in (self.ws.branch, self.ws.base_branch):
            result = await Git().run("check-ref-format", f"refs/heads/{branch}", check=False)
            if result.returncode != 0:
                _invalid(f"{branch!r} is not a valid branch name")

    async def _init(self) -> None:
        valid = (self.path / ".git").is_dir() and (
            await self.git.run("rev-parse", "--git-dir", check=False)
        ).returncode == 0
        if not valid:
            if self.path.is_symlink() or self.path.is_file():
                self.path.unlink()
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True)
            await self.git.run("init", "-q")
        # Plain URL only: credentials travel in an environment header, never in .git/config.
        await self.git.run("config", "remote.origin.url", self.ws.clone_url)

    async def _fetch(self) -> None:
        heads = await self._remote_heads()
        if self.ws.base_branch not in heads:
            raise ApplicationError(
                f"base branch {self.ws.base_branch!r} does not exist on the forge",
                type=names.ERR_NOT_FOUND,
                non_retryable=True,
            )
        refspecs = [f"+refs/heads/{self.ws.base_branch}:{self.base_ref}"]
        if self.ws.branch in heads:
            refspecs.append(f"+refs/heads/{self.ws.branch}:{self.remote_ref}")
        else:
            await self.git.run("update-ref", "-d", self.remote_ref)
        # Every tag too (forced: a moved tag moves here), so that VCS-derived versions
        # (setuptools_scm, hatch-vcs) come out as they would in the forge's own CI.
        refspecs.append("+refs/tags/*:refs/tags/*")
        await self.git.run("fetch", "-q", "--no-tags", "origin", *refspecs)

    async def _remote_heads(self) -> set[str]:
        wanted = {f"refs/heads/{b}" for b in (self.ws.base_branch, self.ws.branch)}
        out = await self.git.run("ls-remote", "--heads", "origin", *sorted(wanted))
        refs = {line.split("\t", 1)[1] for line in out.text.splitlines() if "\t" in line}
        return {r.removeprefix("refs/heads/") for r in refs & wanted}

    async def _switch(self, keep_unpushed: bool) -> None:
        tip = await self.rev(self.remote_ref) or await self.rev(self.base_ref)
        assert tip is not None, "fetch guarantees the base branch"
        target = tip
        local = await self.rev(f"refs/heads/{self.ws.branch}")
        if keep_unpushed and local and local != tip and await self.is_ancestor(tip, local):
            target = local
        await self.git.run("checkout", "-q", "-f", "-B", self.ws.branch, target)
        # -ff: also nested repositories; ignored files (caches) stay, they are never committed.
        await self.git.run("clean", "-q", "-ffd")

    async def rev(self, ref: str) -> str | None:
        result = await self.git.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return result.text.strip() if result.returncode == 0 else None

    async def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = await self.git.run(
            "merge-base", "--is-ancestor", ancestor, descendant, check=False
        )
        return result.returncode == 0

    async def head(self) -> str:
        return (await self.git.run("rev-parse", "HEAD")).text.strip()

    async def base_sha(self) -> str:
        return (await self.git.run("merge-base", "HEAD", self.base_ref)).text.strip()

    async def tracked_files(self) -> list[str]:
        out = await self.git.run("ls-files", "-z")
        return [p for p in out.text.split("\0") if p]

    async def push(self, sha: str) -> None:
        await self.git.run("push", "-q", "origin", f"{sha}:refs/heads/{self.ws.branch}")
        await self.git.run("update-ref", self.remote_ref, sha)
