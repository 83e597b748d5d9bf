"""Plumbing on the forge's bare repositories: refs, trees, blobs, diffs and real merges.

Everything shells out to ``git`` asynchronously so a slow command never stalls the server
(pushes stream through the same event loop).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40


class GitError(Exception):
    """A git command failed; ``stderr`` is for logs, never for API answers."""

    def __init__(self, args: tuple[str, ...], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])} exited {code}")
        self.code = code
        self.stderr = stderr


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A predictable environment: no user/system config, no prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    env.update(extra or {})
    return env


async def run(
    repo: Path,
    *args: str,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> tuple[int, bytes]:
    """Run ``git --git-dir=repo args``; return (exit code, stdout) or raise GitError."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        f"--git-dir={repo}",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(env),
    )
    out, err = await proc.communicate(stdin)
    code = proc.returncode if proc.returncode is not None else -1
    if code not in ok_codes:
        raise GitError(args, code, err.decode(errors="replace"))
    return code, out


async def text(repo: Path, *args: str) -> str:
    return (await run(repo, *args))[1].decode(errors="replace").strip()


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: str  # strict ISO 8601

    def env(self, role: str) -> dict[str, str]:
        return {f"GIT_{role}_NAME": self.name, f"GIT_{role}_EMAIL": self.email}


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    message: str
    author: Signature
    committer: Signature


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # blob, tree, commit (submodule)
    sha: str
    size: int
    path: str


@dataclass(frozen=True)
class DiffStat:
    additions: int
    deletions: int
    changed_files: int


async def init_bare(repo: Path, default_branch: str) -> None:
    repo.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        "git",
        "init",
        "--quiet",
        "--bare",
        f"--initial-branch={default_branch}",
        str(repo),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise GitError(("init",), proc.returncode or -1, err.decode(errors="replace"))


async def set_head(repo: Path, branch: str) -> None:
    await run(repo, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


def remove(repo: Path) -> None:
    shutil.rmtree(repo, ignore_errors=True)


async def branches(repo: Path) -> list[tuple[str, str]]:
    """(name, sha) of every branch, by name."""
    out = await text(
        repo,
        "for-each-ref",
        "--format=%(refname:strip=2)%00%(objectname)",
        "--sort=refname",
        "refs/heads/",
    )
    return [tuple(line.split("\0", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


async def branch_sha(repo: Path, name: str) -> str | None:
    code, out = await run(
        repo,
        "rev-parse",
        "--verify",
        "--quiet",
        f"refs/heads/{name}^{{commit}}",
        ok_codes=(0, 1, 128),
    )
    return out.decode().strip() if code == 0 else None


async def resolve(repo: Path, ref: str) -> str | None:
    """A branch, tag or (abbreviated) commit sha to a full commit sha, or None."""
    if not ref or ref.startswith("-"):
        return None
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        code, out = await run(
            repo,
            "rev-parse",
            "--verify",
            "--quiet",
            f"{candidate}^{{commit}}",
            ok_codes=(0, 1, 128),
        )
        if code == 0:
            return out.decode().strip()
    return None


async def valid_branch_name(repo: Path, name: str) -> bool:
    code, _ = await run(repo, "check-ref-format", "--branch", name, ok_codes=(0, 1, 128))
    return code == 0 and not name.startswith("-")


async def update_ref(repo: Path, ref: str, new: str, old: str | None = None) -> bool:
    """Move ref to new (compare-and-swap on old; ZERO_SHA = must not exist). False if raced."""
    args = ["update-ref", ref, new] + ([old] if old is not None else [])
    code, _ = await run(repo, *args, ok_codes=(0, 1, 128))
    return code == 0


async def delete_ref(repo: Path, ref: str) -> None:
    await run(repo, "update-ref", "-d", ref, ok_codes=(0, 1))


async def commit(repo: Path, sha: str) -> CommitInfo:
    fmt = "%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI%n%B"
    out = (await run(repo, "log", "-1", f"--format={fmt}", sha, "--"))[1].decode(errors="replace")
    lines = out.split("\n", 9)
    return CommitInfo(
        sha=lines[0],
        tree=lines[1],
        parents=lines[2].split(),
        author=Signature(lines[3], lines[4], lines[5]),
        committer=Signature(lines[6], lines[7], lines[8]),
        message=lines[9].rstrip("\n") + "\n" if len(lines) > 9 else "",
    )


async def tree_entry(repo: Path, sha: str, path: str) -> TreeEntry | None:
    """The entry at path in the commit's tree ('' = the root tree)."""
    if not path:
        tree = await text(repo, "rev-parse", f"{sha}^{{tree}}")
        return TreeEntry("040000", "tree", tree, 0, "")
    entries = await _ls_tree(repo, sha, path)
    return entries[0] if entries and entries[0].path == path else None


async def list_tree(repo: Path, sha: str, path: str) -> list[TreeEntry]:
    return await _ls_tree(repo, sha, f"{path}/" if path else "")


async def _ls_tree(repo: Path, sha: str, spec: str) -> list[TreeEntry]:
    args = ["ls-tree", "-l", "-z", "--full-name", sha]
    out = (await run(repo, *args, *(["--", spec] if spec else [])))[1].decode(errors="replace")
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, obj, size = meta.split()
        entries.append(TreeEntry(mode, kind, obj, int(size) if size != "-" else 0, path))
    return entries


async def blob(repo: Path, sha: str) -> bytes:
    return (await run(repo, "cat-file", "blob", sha))[1]


async def last_commit(repo: Path, ref: str, path: str) -> CommitInfo | None:
    out = await text(repo, "log", "-1", "--format=%H", ref, "--", path or ".")
    return await commit(repo, out) if out else None


async def merge_base(repo: Path, a: str, b: str) -> str | None:
    code, out = await run(repo, "merge-base", a, b, ok_codes=(0, 1))
    return out.decode().strip() if code == 0 else None


async def is_ancestor(repo: Path, a: str, b: str) -> bool:
    code, _ = await run(repo, "merge-base", "--is-ancestor", a, b, ok_codes=(0, 1))
    return code == 0


async def diff_stat(repo: Path, base: str, head: str) -> DiffStat:
    out = await text(repo, "diff", "--numstat", "-z", "--no-renames", base, head)
    additions = deletions = files = 0
    for record in out.split("\0"):
        if not record.strip():
            continue
        added, deleted, _ = record.split("\t", 2)
        files += 1
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    return DiffStat(additions, deletions, files)


async def merge_tree(repo: Path, base: str, head: str) -> str | None:
    """The tree of merging head into base, or None when they conflict."""
    code, out = await run(
        repo, "merge-tree", "--write-tree", "--no-messages", base, head, ok_codes=(0, 1)
    )
    return out.decode().split("\n", 1)[0].strip() if code == 0 else None


async def commit_tree(
    repo: Path, tree: str, parents: list[str], message: str, who: Signature
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    env = {**who.env("AUTHOR"), **who.env("COMMITTER")}
    return (await run(repo, *args, stdin=message.encode(), env=env))[1].decode().strip()


async def rebase(repo: Path, onto: str, upstream: str, head: str, who: Signature) -> str | None:
    """Replay upstream..head onto ``onto`` in a throwaway worktree; None on conflict."""
    with tempfile.TemporaryDirectory(prefix="forge-rebase-") as tmp:
        work = Path(tmp) / "wt"
        await run(repo, "worktree", "add", "--detach", "--quiet", str(work), head)
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                "-C",
                str(work),
                "rebase",
                "--quiet",
                "--onto",
                onto,
                upstream,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=git_env(who.env("COMMITTER")),
            )
            if await proc.wait() != 0:
                return None
            proc = await asyncio.create_subprocess_exec(
                "git",
                "-C",
                str(work),
                "rev-parse",
                "HEAD",
                stdout=asyncio.subprocess.PIPE,
                env=git_env(),
            )
            out, _ = await proc.communicate()
            return out.decode().strip()
        finally:
            await run(repo, "worktree", "remove", "--force", str(work), ok_codes=(0, 128))
            await run(repo, "worktree", "prune", ok_codes=(0, 128))
