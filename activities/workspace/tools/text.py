"""Reading the checkout for the model: text files with line numbers, directory listings.

Lines are counted as git and editors count them (split on ``\\n`` only), so ``view``,
``insert`` and ``search`` agree on every line number.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from activities.workspace.tools.args import ToolError

OUTPUT_CHARS = 16_000  # the most any one tool answer shows
WINDOW_LINES = 2_000  # a view without a range shows at most this many lines
LINE_CHARS = 2_000  # longer lines (minified code, data) are cut in views
MAX_FILE_BYTES = 32 * 1024 * 1024  # larger files are neither shown nor edited; search works
LISTING_DEPTH = 2
# Listed but not descended into: caches and installed dependencies, never the code to change.
NOT_DESCENDED = frozenset(
    {"__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".eggs", "dist", "build", "target"}
)  # fmt: skip


class Missing(ToolError):
    """The path does not exist; the toolbox adds the nearest tracked paths."""


@dataclass(frozen=True)
class TextFile:
    text: str  # decoded with surrogateescape, so bytes that are not UTF-8 survive an edit
    crlf: bool  # lines end with \r\n: inserted text gets them too


def split_lines(text: str) -> list[str]:
    """The file's lines without their ``\\n``; a final newline does not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def line_of(text: str, index: int) -> int:
    """The 1-based line number of character ``index``."""
    return text.count("\n", 0, index) + 1


def read_text(checkout: Path, rel: str) -> TextFile:
    """A regular text file of the checkout, or a ToolError saying why it cannot be read."""
    target = checkout / rel
    try:
        info = target.lstat()
    except FileNotFoundError:
        raise Missing(f"{rel} does not exist") from None
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{rel} is a directory; view it to list its files")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{rel} is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ToolError(
            f"{rel} is {info.st_size} bytes, more than the {MAX_FILE_BYTES} bytes the file "
            "tools handle; use search to find what you need in it"
        )
    # O_NOFOLLOW: the path was checked for symlinks; this refuses one that appeared since.
    fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if b"\0" in data:
        raise ToolError(f"{rel} is a binary file ({len(data)} bytes); it cannot be shown or edited")
    text = data.decode("utf-8", errors="surrogateescape")
    return TextFile(text=text, crlf="\r\n" in text)


def numbered(lines: list[str], first: int, budget: int = OUTPUT_CHARS) -> tuple[str, int]:
    """``lines`` (the first is line ``first``) in ``cat -n`` style, up to ``budget`` characters;
    returns the text and how many lines it holds."""
    out: list[str] = []
    used = 0
    for offset, line in enumerate(lines):
        shown = printable(line.removesuffix("\r"))
        if len(shown) > LINE_CHARS:
            shown = f"{shown[:LINE_CHARS]} [... line cut, {len(shown)} characters]"
        row = f"{first + offset:6}\t{shown}\n"
        if used + len(row) > budget and out:
            break
        out.append(row)
        used += len(row)
    return "".join(out), len(out)


def printable(text: str) -> str:
    """Text the model may see: bytes that were not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def view_file(rel: str, file: TextFile, view_range: tuple[int, int] | None) -> str:
    """A file's lines, numbered; a window of it when it is too long, saying how to see more."""
    lines = split_lines(file.text)
    total = len(lines)
    if total == 0:
        return f"{rel} is empty (0 lines)"
    start, end = view_range or (1, min(total, WINDOW_LINES))
    if start > total:
        raise ToolError(
            f"view_range starts at line {start}, but {rel} has only {total} lines; "
            f"use a start between 1 and {total}"
        )
    end = total if end == -1 else min(end, total)
    body, shown = numbered(lines[start - 1 : end], start, OUTPUT_CHARS - 200)
    last = start + shown - 1
    if last == end and (view_range is not None or last == total):
        return body  # all that was asked for
    note = f"[{rel}: lines {start}-{last} of {total} shown"
    if last < total:
        step = max(shown, 1)
        note += f"; view_range [{last + 1}, {min(total, last + step)}] shows the next lines"
    return f"{body}{note}]"


def list_directory(checkout: Path, rel: str) -> str:
    """The directory's entries two levels deep (``.git`` left out), directories first."""
    root = checkout / rel if rel else checkout
    rows: list[str] = []
    skipped = _walk(root, 0, rows)
    listed = "".join(rows)
    shown = listed[:OUTPUT_CHARS]
    name = f"{rel}/" if rel else "the repository root"
    if not rows:
        return f"{name} is empty"
    if len(shown) < len(listed) or skipped:
        shown = shown[: shown.rfind("\n") + 1]
        left = listed.count("\n") - shown.count("\n") + skipped
        shown += f"[{left} more entries not shown; view a subdirectory to see them]"
    header = f"{name} ({LISTING_DEPTH} levels; '/' marks directories, '@' symlinks):\n"
    return header + shown


def _walk(directory: Path, depth: int, rows: list[str]) -> int:
    """Appends rows for ``directory``; returns how many entries were left out (over the cap)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: (not _is_dir(e), e.name))
    except OSError as e:
        rows.append(f"{'  ' * depth}[cannot list: {e.strerror}]\n")
        return 0
    skipped = 0
    for entry in entries:
        if entry.name == ".git":
            continue
        if len(rows) >= 2_000:  # far past what one answer shows; stop walking
            skipped += 1
            continue
        indent = "  " * depth
        if entry.is_symlink():
            rows.append(f"{indent}{printable(entry.name)}@\n")
        elif _is_dir(entry):
            rows.append(f"{indent}{printable(entry.name)}/\n")
            if depth + 1 < LISTING_DEPTH and entry.name not in NOT_DESCENDED:
                skipped += _walk(Path(entry.path), depth + 1, rows)
        else:
            rows.append(f"{indent}{printable(entry.name)}\n")
    return skipped


def _is_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)
