"""Commits that carry an ``Autopilot-Change:`` trailer, so a retried activity finds its own work."""

from __future__ import annotations

from activities.workspace.checkout import Checkout
from domain.change import CommitInfo

TRAILER = "Autopilot-Change"


def commit_message(text: str, change_id: str) -> bytes:
    """The model's message plus our trailer, which must stay the last paragraph to be parsed."""
    body = text.replace("\0", "").strip() or "Autopilot change"
    return f"{body}\n\n{TRAILER}: {change_id}\n".encode()


async def find_change(co: Checkout, change_id: str) -> str | None:
    """The commit on the branch (local or forge) whose trailer names ``change_id``."""
    refs = ["HEAD"]
    if await co.rev(co.remote_ref):
        refs.append(co.remote_ref)
    fmt = f"--format=%H%x1f%(trailers:key={TRAILER},valueonly,separator=%x1f)%x1e"
    out = await co.git.run("log", fmt, *refs, "--not", co.base_ref, "--")
    for record in out.text.split("\x1e"):
        sha, _, values = record.strip().partition("\x1f")
        if sha and change_id in (v.strip() for v in values.split("\x1f")):
            return sha
    return None


async def found_change(co: Checkout, sha: str) -> CommitInfo:
    """The earlier attempt's commit, pushed now if that attempt died before its push."""
    remote = await co.rev(co.remote_ref)
    if remote is None or not await co.is_ancestor(sha, remote):
        await co.push(await co.head())
    return CommitInfo(sha=sha, changed=True, files=await commit_files(co, sha))


async def commit_staged(co: Checkout, text: str, change_id: str) -> CommitInfo:
    """Commits what is staged (nothing else) with the trailer and pushes it."""
    staged = await co.git.run("diff", "--cached", "--quiet", check=False)
    if staged.returncode == 0:
        return CommitInfo(sha=await co.head(), changed=False, files=[])
    # whitespace cleanup only: the default would drop lines starting with '#', e.g. "#12".
    await co.git.run(
        "commit",
        "-q",
        "--no-verify",
        "--cleanup=whitespace",
        "-F",
        "-",
        stdin=commit_message(text, change_id),
    )
    sha = await co.head()
    await co.push(sha)
    return CommitInfo(sha=sha, changed=True, files=await commit_files(co, sha))


async def commit_files(co: Checkout, sha: str) -> list[str]:
    out = await co.git.run(
        "diff-tree", "--root", "--no-commit-id", "--no-renames", "-r", "-z", "--name-only", sha
    )
    return [p for p in out.text.split("\0") if p]
