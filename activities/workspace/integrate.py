"""Merging a task branch into the issue branch: idempotent, conflicts reported, not guessed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from temporalio.exceptions import ApplicationError

from activities.workspace.checkout import Checkout
from activities.workspace.git import GitError
from activities.workspace.paths import validate_edits
from domain import names
from domain.change import FileEdit, TestRun
from domain.task import IntegrateInput, IntegrateResult

INTEGRATE_TRAILER = "Autopilot-Integrate"
MAX_CONFLICT_FILE_BYTES = 200_000
_MARKER = re.compile(r"^(<{7}|>{7}|={7})( |$)", re.MULTILINE)

RunTests = Callable[[str, int], Awaitable[TestRun]]


def has_conflict_markers(text: str) -> bool:
    return bool(_MARKER.search(text))


async def integrate(
    co: Checkout, input: IntegrateInput, run_tests: RunTests, max_edit_bytes: int
) -> IntegrateResult:
    """Merge (fast-forward when possible) and push; see ``IntegrateInput``."""
    task_ref = f"refs/remotes/origin/{input.task_branch}"
    listed = await co.git.run("ls-remote", "--heads", "origin", f"refs/heads/{input.task_branch}")
    if not listed.text.strip():
        return IntegrateResult(status="nothing_to_merge", head_sha=await co.head())
    await co.git.run(
        "fetch", "-q", "--no-tags", "origin", f"+refs/heads/{input.task_branch}:{task_ref}"
    )
    tip = await co.rev(task_ref)
    assert tip is not None, "just fetched"
    if await co.is_ancestor(tip, await co.head()):
        return IntegrateResult(status="already_merged", head_sha=await co.head())
    message = f"Integrate task {input.task_id}\n\n{INTEGRATE_TRAILER}: {input.task_id}\n"
    merged = await co.git.run("merge", "-q", "--no-edit", "-m", message, tip, check=False)
    if merged.returncode == 0:
        return await _publish(co)
    conflicted = await _conflicted(co)
    if not conflicted:
        await co.git.run("merge", "--abort", check=False)
        stderr = co.git.scrub(merged.stderr.decode("utf-8", errors="replace"))[-2000:]
        raise GitError(f"git merge of {input.task_branch} failed: {stderr}")
    if input.resolution is None:
        conflicts = {p: _read(co, p) for p in conflicted}
        await co.git.run("merge", "--abort")
        return IntegrateResult(status="conflict", head_sha=await co.head(), conflicts=conflicts)
    problems = _check_resolution(conflicted, input.resolution)
    edits = [FileEdit(path=p, content=c) for p, c in input.resolution.items()]
    accepted, refusals = validate_edits(co.path, edits, max_edit_bytes)
    problems += [str(r) for r in refusals]
    if problems:
        await co.git.run("merge", "--abort")
        raise ApplicationError(
            "conflict resolution refused: " + "; ".join(problems),
            type=names.ERR_INVALID_REQUEST,
            non_retryable=True,
        )
    for rel, edit in accepted:
        (co.path / rel).write_text(edit.content or "", encoding="utf-8")
    await co.git.run("add", "-A")
    if input.test_command:
        run = await run_tests(input.test_command, input.test_timeout_seconds)
        # The sandbox may have changed owners and modes (and the tests, files): let git look
        # again, then drop the merge whatever the tests left behind.
        await co.git.run("update-index", "-q", "--refresh", check=False)
        if not run.passed:
            await co.git.run("reset", "-q", "--hard", "HEAD")  # also ends the merge
            return IntegrateResult(
                status="tests_failed", head_sha=await co.head(), test_output=run.output_tail
            )
    await co.git.run(
        "commit", "-q", "--no-verify", "--cleanup=whitespace", "-F", "-", stdin=message.encode()
    )
    return await _publish(co)


async def _publish(co: Checkout) -> IntegrateResult:
    head = await co.head()
    await co.push(head)
    return IntegrateResult(status="merged", head_sha=head)


async def _conflicted(co: Checkout) -> list[str]:
    out = await co.git.run("diff", "--name-only", "--diff-filter=U", "-z")
    return sorted(p for p in out.text.split("\0") if p)


def _read(co: Checkout, path: str) -> str:
    data = (co.path / path).read_bytes()[:MAX_CONFLICT_FILE_BYTES]
    return data.decode("utf-8", errors="replace")


def _check_resolution(conflicted: list[str], resolution: dict[str, str]) -> list[str]:
    problems = [f"{p}: conflicted but not resolved" for p in conflicted if p not in resolution]
    problems += [f"{p}: not a conflicted file" for p in resolution if p not in conflicted]
    problems += [
        f"{p}: still has conflict markers" for p, c in resolution.items() if has_conflict_markers(c)
    ]
    return problems
