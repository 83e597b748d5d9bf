"""Workspace activities: checkouts, untrusted edits, test runs and diffs, all through git."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.sandbox import Sandbox
from activities.workspace.changes import commit_staged, find_change, found_change
from activities.workspace.checkout import Checkout, check_workspace_ref, clone_url_base
from activities.workspace.environment import Environments
from activities.workspace.git import Git
from activities.workspace.integrate import integrate
from activities.workspace.paths import (
    UnsafePath,
    checkout_dir_name,
    safe_relative_path,
    validate_edits,
)
from activities.workspace.repo_map import build_repo_map, file_sizes
from activities.workspace.scan import scan_change
from activities.workspace.testrun import run_tests
from activities.workspace.tools import Commands, Toolbox
from domain import names
from domain.agent import (
    FileSizes,
    FileSizesInput,
    RepoMap,
    RepoMapInput,
    RunToolsInput,
    RunToolsOutput,
)
from domain.change import CommitInfo, DiffSummary, FileEdit, TestRun
from domain.names import ENSURE_BRANCH, INTEGRATE
from domain.review import ChangeScan, ScanChangeInput
from domain.sandbox import SandboxSettings
from domain.task import EnsureBranchInput, IntegrateInput, IntegrateResult
from domain.workspace import (
    ApplyEditsInput,
    DiffSummaryInput,
    EnvironmentRef,
    FileContents,
    PrepareEnvironmentInput,
    PrepareEnvironmentResult,
    PrepareWorkspaceInput,
    ReadFilesInput,
    RunTestsInput,
    WorkspaceRef,
    WorkspaceState,
)


class WorkspaceActivities:
    """Owns the checkouts under ``root``; ``token_for(clone_url_base)`` gives forge credentials.

    Repository code (setup, tests) runs only through ``sandbox``; environments are cached in
    ``environments_root`` (default: ``<root>-environments``, beside and outside the checkouts).
    """

    heartbeat_interval: float = 5.0

    def __init__(
        self,
        root: Path,
        token_for: Callable[[str], str | None],
        max_edit_bytes: int = 200_000,
        git_author: tuple[str, str] = ("Autopilot", "autopilot@localhost"),
        sandbox: SandboxSettings | None = None,
        environments_root: Path | None = None,
    ) -> None:
        self._root = root
        self._sandbox = Sandbox(sandbox)
        self._environments = Environments(
            environments_root or root.with_name(f"{root.name}-environments"), self._sandbox
        )
        self._token_for = token_for
        self._max_edit_bytes = max_edit_bytes
        self._git_author = git_author
        # Activities of one workflow never overlap by design, but a retry may start while a
        # timed-out attempt is still winding down; git must not run twice in one checkout.
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def _checkout(self, ws: WorkspaceRef, *, keep_unpushed: bool) -> AsyncIterator[Checkout]:
        check_workspace_ref(ws)
        name = checkout_dir_name(ws.key)
        token = None
        if urlsplit(ws.clone_url).scheme in ("http", "https"):
            token = self._token_for(clone_url_base(ws.clone_url))
        path = self._root / name
        git = Git(checkout=path, token=token, author=self._git_author)
        async with self._locks.setdefault(name, asyncio.Lock()):
            self._root.mkdir(parents=True, exist_ok=True)
            checkout = Checkout(ws, path, git)
            await checkout.ensure(keep_unpushed=keep_unpushed)
            yield checkout

    @activity.defn(name=names.PREPARE_WORKSPACE)
    async def prepare(self, input: PrepareWorkspaceInput) -> WorkspaceState:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            return WorkspaceState(
                base_sha=await co.base_sha(),
                head_sha=await co.head(),
                files=await co.tracked_files(),
            )

    @activity.defn(name=names.READ_FILES)
    async def read_files(self, input: ReadFilesInput) -> FileContents:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            result = FileContents(files={})
            refusals = []
            for path in input.paths:
                try:
                    rel = safe_relative_path(co.path, path)
                except UnsafePath as e:
                    refusals.append(f"{path!r}: {e}")
                    continue
                content = _read_text(co.path / rel, input.max_bytes_per_file)
                if content is None:
                    result.missing.append(path)
                else:
                    result.files[path] = content
            if refusals:
                raise _unsafe("refused to read", refusals)
            return result

    @activity.defn(name=names.APPLY_EDITS)
    async def apply_edits(self, input: ApplyEditsInput) -> CommitInfo:
        change_id = _change_id(input.change_id)
        async with self._checkout(input.workspace, keep_unpushed=True) as co:
            existing = await find_change(co, change_id)
            if existing is not None:
                return await found_change(co, existing)

            accepted, refusals = validate_edits(co.path, input.edits.edits, self._max_edit_bytes)
            if refusals:
                raise _unsafe(
                    "refused unsafe edits; nothing was written", [str(r) for r in refusals]
                )
            for rel, edit in accepted:
                _apply(co.path, rel, edit)
            # The checkout was cleaned first, so this stages the edits and nothing else; edits
            # to ignored paths stay uncommitted, as for any contributor.
            await co.git.run("add", "-A")
            done = await commit_staged(co, input.edits.commit_message, change_id)
            if done.changed:
                activity.logger.info(
                    "Committed and pushed %s on %s", done.sha, input.workspace.branch
                )
            return done

    @activity.defn(name=names.RUN_TOOLS)
    async def run_tools(self, input: RunToolsInput) -> RunToolsOutput:
        """One turn's tool calls in order, then its edits as one commit, pushed.

        A retry whose earlier attempt already committed (found by the change id's trailer,
        pushed now if it was not) makes no edit again: edit calls are answered from that
        commit, read-only calls and commands are carried out again.
        """
        change_id = _change_id(input.change_id)
        async with self._checkout(input.workspace, keep_unpushed=True) as co:
            existing = await find_change(co, change_id)
            replay = await found_change(co, existing) if existing is not None else None
            commands = Commands(
                self._sandbox,
                self._environments,
                checkout=co.path,
                repo=co.ws.repo,
                environment=input.environment,
                budget_seconds=input.run_timeout_seconds,
                heartbeat=activity.heartbeat,
                heartbeat_interval=self.heartbeat_interval,
            )
            tools = Toolbox(
                co,
                allowed=input.allowed,
                max_edit_bytes=self._max_edit_bytes,
                commands=commands,
                replay=replay,
                heartbeat=activity.heartbeat,
            )
            results = [await tools.call(call) for call in input.calls]
            if replay is not None:
                return RunToolsOutput(results=results, commit=replay)
            # Only what the edit tools staged: files a command changed are never committed.
            done = await commit_staged(co, input.commit_message, change_id)
            return RunToolsOutput(results=results, commit=done if done.changed else None)

    @activity.defn(name=names.REPO_MAP)
    async def repo_map(self, input: RepoMapInput) -> RepoMap:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            files = await co.tracked_files()
            return await asyncio.to_thread(build_repo_map, co.path, files, input.max_tokens)

    @activity.defn(name=names.FILE_SIZES)
    async def file_sizes(self, input: FileSizesInput) -> FileSizes:
        """Sizes of the plan's files on the branch, for the cost estimate; unsafe paths and
        files that do not exist yet are left out."""
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            return FileSizes(sizes=file_sizes(co.path, input.paths))

    @activity.defn(name=names.PREPARE_ENVIRONMENT)
    async def prepare_environment(self, input: PrepareEnvironmentInput) -> PrepareEnvironmentResult:
        """The checkout's environment, reused or built; a failing setup command is a result."""
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            return await self._environments.ensure(
                co.path, input.workspace.repo, input.spec(), activity.heartbeat
            )

    @activity.defn(name=names.RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> TestRun:
        if input.timeout_seconds <= 0:
            raise _invalid_request("timeout_seconds must be positive")
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            return await self._run_tests(
                co, input.command, input.timeout_seconds, input.environment
            )

    async def _run_tests(
        self, co: Checkout, command: str, timeout_seconds: float, env: EnvironmentRef | None
    ) -> TestRun:
        return await run_tests(
            self._sandbox,
            self._environments,
            checkout=co.path,
            repo=co.ws.repo,
            command=command,
            timeout_seconds=timeout_seconds,
            environment=env,
            heartbeat=activity.heartbeat,
            heartbeat_interval=self.heartbeat_interval,
        )

    @activity.defn(name=ENSURE_BRANCH)
    async def ensure_branch(self, input: EnsureBranchInput) -> WorkspaceState:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            head = await co.head()
            if await co.rev(co.remote_ref) is None:
                await co.push(head)
            return WorkspaceState(
                base_sha=await co.base_sha(), head_sha=head, files=await co.tracked_files()
            )

    @activity.defn(name=INTEGRATE)
    async def integrate(self, input: IntegrateInput) -> IntegrateResult:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:

            async def run_tests(command: str, timeout_seconds: int) -> TestRun:
                return await self._run_tests(co, command, timeout_seconds, input.environment)

            return await integrate(co, input, run_tests, self._max_edit_bytes)

    @activity.defn(name=names.DIFF_SUMMARY)
    async def diff_summary(self, input: DiffSummaryInput) -> DiffSummary:
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            base, head = await co.base_sha(), await co.head()
            flags = ("--no-renames", "--no-ext-diff", "--no-textconv", "--no-color")
            numstat = await co.git.run("diff", *flags, "--numstat", "-z", base, head)
            files, additions, deletions = _parse_numstat(numstat.text)
            raw = (await co.git.run("diff", *flags, base, head)).stdout
            limit = max(input.max_diff_bytes, 0)
            return DiffSummary(
                base_sha=base,
                head_sha=head,
                files=files,
                additions=additions,
                deletions=deletions,
                diff=raw[:limit].decode("utf-8", errors="replace"),
                truncated=len(raw) > limit,
            )

    @activity.defn(name=names.SCAN_CHANGE)
    async def scan_change(self, input: ScanChangeInput) -> ChangeScan:
        """Secrets on the change's added lines and its submodule entries (review gates)."""
        async with self._checkout(input.workspace, keep_unpushed=False) as co:
            base, head = await co.base_sha(), await co.head()
            return await scan_change(co.git, co.path, base, head, input.max_file_bytes)


def _read_text(path: Path, max_bytes: int) -> str | None:
    """A file's text, a note saying why it was skipped, or None when it does not exist."""
    if not path.exists():
        return None
    if path.is_dir():
        return "[autopilot: skipped, this is a directory]"
    if not path.is_file():
        return "[autopilot: skipped, not a regular file]"
    size = path.stat().st_size
    if size > max_bytes:
        return f"[autopilot: skipped, {size} bytes is over the {max_bytes} byte limit]"
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "[autopilot: skipped, binary file]"


def _apply(checkout: Path, rel: PurePosixPath, edit: FileEdit) -> None:
    target = checkout / rel
    if edit.action == "delete":
        if target.exists():
            target.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: validation already refused symlinks; this refuses one that appeared since.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with open(fd, "wb") as f:
        f.write((edit.content or "").encode("utf-8", errors="surrogatepass"))


def _parse_numstat(text: str) -> tuple[list[str], int, int]:
    """``added\\tdeleted\\tpath\\0`` records; binary files count as '-' and add nothing."""
    files: list[str] = []
    additions = deletions = 0
    for record in text.split("\0"):
        if not record.strip():
            continue
        added, deleted, path = record.split("\t", 2)
        files.append(path)
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    return files, additions, deletions


def _change_id(raw: str) -> str:
    change_id = raw.strip()
    if not change_id or any(ord(c) < 32 for c in change_id):
        raise _invalid_request("change_id must be one non-empty line")
    return change_id


def _unsafe(prefix: str, reasons: list[str]) -> ApplicationError:
    return ApplicationError(
        f"{prefix}: {'; '.join(reasons)}",
        reasons,
        type=names.ERR_UNSAFE_EDIT,
        non_retryable=True,
    )


def _invalid_request(message: str) -> ApplicationError:
    return ApplicationError(message, type=names.ERR_INVALID_REQUEST, non_retryable=True)
