"""``search``: ``git grep -n -E`` over the checkout's files (tracked, and untracked ones that
.gitignore does not exclude), counted first so that the answer can say how many more there are
and show any page of them without holding every match in memory."""

from __future__ import annotations

from activities.workspace.git import Git, GitError
from activities.workspace.tools.args import ToolError
from activities.workspace.tools.text import OUTPUT_CHARS, printable

DEFAULT_RESULTS = 50
MAX_RESULTS = 200
MATCH_CHARS = 300  # of one matching line


async def search(git: Git, pattern: str, scope: str, max_results: int, offset: int) -> str:
    """Matches ``offset``.. of ``pattern`` under ``scope`` ('' for everything) as path:line:text."""
    if not pattern:
        raise ToolError("pattern is empty")
    if "\n" in pattern or "\0" in pattern:
        raise ToolError("pattern must be a single line")
    limit = min(max_results, MAX_RESULTS)
    grep = ["grep", "-I", "-E", "--no-color", "--untracked", "-z", "-e", pattern]
    where = ["--", scope] if scope else []
    counted = await _grep(git, [*grep, "-c", *where])
    counts = [(path, int(n)) for path, _, n in (r.partition("\0") for r in counted) if n.isdigit()]
    total = sum(n for _, n in counts)
    place = f" in {scope}" if scope else ""
    if total == 0:
        return f"no matches for {pattern!r}{place}" + _hint(pattern)
    if offset >= total:
        raise ToolError(f"offset {offset} is past the last match: there are {total}")
    files, skip = _page_files(counts, offset, limit)
    out = await _grep(git, [*grep, "-n", "-m", str(offset + limit), "--", *files])
    rows = _rows(out)[skip : skip + limit]
    body, shown = _fit(rows)
    last = offset + shown
    note = f"[matches {offset + 1}-{last} of {total} in {len(counts)} files"
    if last < total:
        note += (
            f"; {total - last} more: search again with offset {last}, or narrow it with path "
            "or a more specific pattern"
        )
    return f"{body}{note}]{_hint(pattern)}"


async def _grep(git: Git, args: list[str]) -> list[str]:
    try:
        result = await git.run(*args, check=False)
    except GitError as e:
        raise ToolError(f"search failed: {e}") from None
    if result.returncode == 1:
        return []
    if result.returncode != 0:
        why = result.stderr.decode("utf-8", errors="replace").strip().removeprefix("fatal: ")
        raise ToolError(f"search failed: {why[:500]} (patterns are POSIX extended regexps)")
    return [r for r in result.text.split("\n") if r]


def _page_files(counts: list[tuple[str, int]], offset: int, limit: int) -> tuple[list[str], int]:
    """The files that hold matches offset..offset+limit, and how many of their first file's
    matches come before the page."""
    files: list[str] = []
    skip = 0
    seen = 0
    for path, n in counts:
        if seen + n > offset and seen < offset + limit:
            if not files:
                skip = offset - seen
            files.append(path)
        seen += n
    return files, skip


def _rows(lines: list[str]) -> list[str]:
    rows = []
    for record in lines:
        path, _, rest = record.partition("\0")
        number, _, text = rest.partition("\0")
        if len(text) > MATCH_CHARS:
            text = f"{text[:MATCH_CHARS]} [... {len(text)} characters]"
        rows.append(f"{printable(path)}:{number}: {printable(text.rstrip())}\n")
    return rows


def _fit(rows: list[str]) -> tuple[str, int]:
    used = 0
    for i, row in enumerate(rows):
        if used + len(row) > OUTPUT_CHARS - 300:
            return "".join(rows[:i]), i
        used += len(row)
    return "".join(rows), len(rows)


def _hint(pattern: str) -> str:
    if "\\d" in pattern:
        return "\n(note: extended regexps have no \\d, it means a plain 'd': use [0-9])"
    return ""
