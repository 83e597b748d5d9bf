"""One turn's tool calls on one checkout: checked, carried out in order, answered one by one.

Every model mistake (a bad argument, a refused path, an old_str that is not there) is an
answer with ``is_error`` set, never an exception: the model reads it and corrects itself.
Each successful edit is staged at once, so the turn's commit holds exactly what the edit tools
wrote; what a ``run`` command changes in the checkout is never committed.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from activities.workspace.checkout import Checkout
from activities.workspace.paths import UnsafePath, safe_edit_path, safe_relative_path
from activities.workspace.tools import edits
from activities.workspace.tools.args import (
    ARGUMENTS,
    ToolError,
    check_arguments,
    integer,
    line_range,
    text,
)
from activities.workspace.tools.command import Commands
from activities.workspace.tools.search import DEFAULT_RESULTS, search
from activities.workspace.tools.text import (
    OUTPUT_CHARS,
    Missing,
    TextFile,
    list_directory,
    read_text,
    view_file,
)
from domain.agent import ToolCall, ToolResult
from domain.change import CommitInfo
from domain.sandbox import SANDBOX_CHECKOUT

EDIT_TOOLS = ("create", "str_replace", "insert")


class Toolbox:
    """The tools of one turn. ``replay``: this turn's commit, made by an earlier attempt of
    the activity; edit calls are then answered from it instead of being made again."""

    def __init__(
        self,
        co: Checkout,
        *,
        allowed: Sequence[str],
        max_edit_bytes: int,
        commands: Commands,
        replay: CommitInfo | None,
        heartbeat: Callable[[], None],
    ) -> None:
        self._co = co
        self._allowed = list(dict.fromkeys(allowed))
        self._max_edit_bytes = max_edit_bytes
        self._commands = commands
        self._replay = replay
        self._heartbeat = heartbeat

    async def call(self, call: ToolCall) -> ToolResult:
        self._heartbeat()
        try:
            output, is_error = await self._dispatch(call.name, call.arguments), False
        except ToolError as e:
            output, is_error = str(e), True
        if len(output) > OUTPUT_CHARS + 1_000:  # every tool bounds itself; this is the backstop
            output = output[:OUTPUT_CHARS] + "\n[... output cut at the tool output limit]"
        return ToolResult(call_id=call.id, name=call.name, output=output, is_error=is_error)

    async def _dispatch(self, name: str, args: Mapping[str, Any]) -> str:
        available = ", ".join(self._allowed)
        if name not in ARGUMENTS:
            raise ToolError(f"there is no tool {name!r}; the tools here are: {available}")
        if name not in self._allowed:
            raise ToolError(f"tool {name} is not available here; the tools here are: {available}")
        check_arguments(name, args)
        if name in EDIT_TOOLS and self._replay is not None:
            return self._replayed(text(args, "path"), self._replay)
        if name == "view":
            return await self._view(args)
        if name in EDIT_TOOLS:
            return await self._edit(name, args)
        if name == "search":
            return await self._search(args)
        if name == "run":
            return await self._run(args)
        text(args, "summary", default="")
        return "ok"

    async def _view(self, args: Mapping[str, Any]) -> str:
        rel = self._readable(text(args, "path"))
        view_range = line_range(args)
        target = self._co.path / rel if rel else self._co.path
        if target.is_dir():
            if view_range is not None:
                raise ToolError(f"{rel or '.'} is a directory; view_range works on files only")
            return await asyncio.to_thread(list_directory, self._co.path, rel)
        file = await self._read(rel)
        return view_file(rel, file, view_range)

    async def _edit(self, name: str, args: Mapping[str, Any]) -> str:
        path = text(args, "path")
        rel = await self._writable(path)
        checkout, limit = self._co.path, self._max_edit_bytes
        try:
            if name == "create":
                content = text(args, "content")
                done = await asyncio.to_thread(edits.create, checkout, rel, content, limit)
            elif name == "str_replace":
                old, new = text(args, "old_str"), text(args, "new_str", default="")
                done = await asyncio.to_thread(edits.str_replace, checkout, rel, old, new, limit)
            else:
                line, new = integer(args, "insert_line"), text(args, "new_str")
                done = await asyncio.to_thread(edits.insert, checkout, rel, line, new, limit)
        except Missing as e:
            raise Missing(f"{e}{await self._nearest_paths(rel)}; use create for a new file") from e
        except OSError as e:  # e.g. a file a command made unreadable: the model can fix that
            raise ToolError(f"{name} {rel} failed: {e.strerror or e}") from None
        await self._co.git.run("add", "--", rel)
        return done

    async def _search(self, args: Mapping[str, Any]) -> str:
        pattern = text(args, "pattern")
        scope = self._readable(text(args, "path", default="."))
        if scope and not os.path.lexists(self._co.path / scope):
            raise Missing(f"{scope} does not exist{await self._nearest_paths(scope)}")
        limit = integer(args, "max_results", default=DEFAULT_RESULTS, minimum=1)
        offset = integer(args, "offset", default=0, minimum=0)
        return await search(self._co.git, pattern, scope, limit, offset)

    async def _run(self, args: Mapping[str, Any]) -> str:
        command = text(args, "command")
        requested = None
        if args.get("timeout_seconds") is not None:
            requested = integer(args, "timeout_seconds", minimum=1)
        before = await self._unstaged()
        answer = await self._commands.run(command, requested)
        changed = sorted((await self._unstaged()) - before)
        if changed:
            shown = ", ".join(changed[:10]) + (" ..." if len(changed) > 10 else "")
            answer += (
                f"\n[note: the command changed tracked files ({shown}); only changes made with "
                "the edit tools are committed, so make lasting changes with them]"
            )
        return answer

    def _replayed(self, path: str, commit: CommitInfo) -> str:
        sha = commit.sha[:12]
        parts = [p for p in self._inside(path).split("/") if p not in ("", ".")]
        clean = str(PurePosixPath(*parts or ["."]))
        if clean in commit.files:
            return (
                f"already applied: an earlier attempt of this turn committed its edits as {sha} "
                f"({', '.join(commit.files[:10])}); not applied again"
            )
        raise ToolError(
            f"not applied: an earlier attempt of this turn committed its edits as {sha}, which "
            f"does not change {path}; that edit failed or changed nothing then. View the file "
            "and edit it again if it still needs the change"
        )

    def _readable(self, path: str) -> str:
        """A path the read tools may look at ('' for the root), or a ToolError saying why not."""
        path = self._inside(path)
        if path.strip("/") in ("", "."):
            return ""
        return str(self._checked(path, safe_relative_path))

    async def _writable(self, path: str) -> str:
        rel = str(self._checked(self._inside(path), safe_edit_path))
        # check-ignore refuses the literal pathspecs the Git runner sets; it reads paths anyway.
        ignored = await self._co.git.run(
            "--no-literal-pathspecs", "check-ignore", "-q", "--", rel, check=False
        )
        if ignored.returncode == 0:
            raise ToolError(
                f"refused {path!r}: it is ignored by .gitignore, so the edit would never be "
                "committed"
            )
        return rel

    def _inside(self, path: str) -> str:
        """Paths as the model may have seen them: in the sandbox, or the checkout's own."""
        for root in (SANDBOX_CHECKOUT, str(self._co.path)):
            if path == root or path.startswith(root + "/"):
                return path[len(root) :].lstrip("/") or "."
        return path

    def _checked(self, path: str, check: Callable[[Path, str], PurePosixPath]) -> PurePosixPath:
        try:
            return check(self._co.path, path)
        except UnsafePath as e:
            reason = str(e)
            if path.startswith("/"):
                reason += "; paths are relative to the repository root, e.g. 'src/app.py'"
            parts = [p for p in path.split("/") if p not in ("", ".")]
            target = self._co.path.joinpath(*parts) if parts and ".." not in parts else None
            if target is not None and target.is_symlink():
                reason += f" ({path} points to {os.readlink(target)!r})"
            raise ToolError(f"refused {path!r}: {reason}") from None

    async def _read(self, rel: str) -> TextFile:
        try:
            return await asyncio.to_thread(read_text, self._co.path, rel)
        except Missing as e:
            raise Missing(f"{e}{await self._nearest_paths(rel)}") from e
        except OSError as e:
            raise ToolError(f"cannot read {rel}: {e.strerror or e}") from None

    async def _nearest_paths(self, rel: str) -> str:
        files = await self._co.tracked_files()
        name = PurePosixPath(rel).name
        same_name = [f for f in files if PurePosixPath(f).name == name]
        near = list(dict.fromkeys([*same_name[:3], *difflib.get_close_matches(rel, files, 3)]))
        return f"; did you mean {', '.join(near[:4])}?" if near else ""

    async def _unstaged(self) -> set[str]:
        out = await self._co.git.run("diff", "--name-only", "-z", check=False)
        return {p for p in out.text.split("\0") if p}
