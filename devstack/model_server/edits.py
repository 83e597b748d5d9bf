"""Turning a diff's hunks into ``str_replace`` calls against a file as the ``view`` tool showed it.

The file is known only from view results (lines with their numbers; a view of a region leaves
gaps). Each hunk is found by its old lines (context and removed), nearest to where the diff
puts it, and becomes one ``str_replace`` whose ``old_str`` occurs exactly once in what was seen,
widened line by line with the surrounding text until it does. A hunk whose call would not fit
the output limit is split into its change groups, and those into pieces, each its own call.
A hunk whose new lines are there instead of its old ones is already applied and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from devstack.model_server.answer import ToolUse
from devstack.model_server.patches import FilePatch, Hunk

Lines = list[str | None]  # index i holds line i + 1, None where it was not seen
Fits = Callable[[ToolUse], bool]
# How view results number their lines: "  12\tx" (cat -n), "12 | x", "12│x", "12: x", "12 x".
_SEPARATORS = ("\t", " | ", "| ", "|", "│ ", "│", ": ", ":", " ")


def numbered_lines(text: str) -> dict[int, str]:
    """Line number -> line, read from a view result; unnumbered text is taken as the file."""
    rows = text.split("\n")
    best: dict[int, str] = {}
    for separator in _SEPARATORS:
        run = _longest_run(rows, separator)
        if len(run) > len(best):
            best = run
    if best:
        return best
    if rows and rows[-1] == "":
        rows.pop()
    return {i + 1: row for i, row in enumerate(rows)}


def _longest_run(rows: list[str], separator: str) -> dict[int, str]:
    full = re.compile(r"^\s*(\d+)" + re.escape(separator) + r"(.*)$")
    empty = re.compile(r"^\s*(\d+)\s*" + re.escape(separator.strip()) + r"\s*$")
    best: dict[int, str] = {}
    current: dict[int, str] = {}
    previous = -1
    for row in rows:
        match = full.match(row)
        text = match.group(2) if match else ""
        match = match or empty.match(row)
        if match is None:
            continue  # a header or a note of the tool, not a line of the file
        number = int(match.group(1))
        if number != previous + 1 and current:
            best = current if len(current) > len(best) else best
            current = {}
        current[number] = text
        previous = number
    return current if len(current) > len(best) else best


def merge_views(views: list[dict[int, str]]) -> Lines:
    """The views of one file, later ones first (a region view beats a capped whole view)."""
    known: dict[int, str] = {}
    for view in views:
        known.update(view)
    size = max(known, default=0)
    return [known.get(n) for n in range(1, size + 1)]


def file_edits(patch: FilePatch, seen: Lines, fits: Fits) -> tuple[list[ToolUse], list[Hunk]]:
    """The calls that apply ``patch`` to what was seen, and the hunks that were not found."""
    lines = list(seen)
    calls: list[ToolUse] = []
    missing: list[Hunk] = []
    for hunk in patch.hunks:
        found = hunk_edits(lines, hunk, patch.path, fits)
        if found is None:
            missing.append(hunk)
        else:
            calls.extend(found)
    return calls, missing


def hunk_edits(lines: Lines, hunk: Hunk, path: str, fits: Fits) -> list[ToolUse] | None:
    """Calls for one hunk (``lines`` updated as they would change); [] when already applied."""
    old, new = hunk.old_block, hunk.new_block
    expected = hunk.new_start - 1
    at_old = _locate(lines, old, expected) if old else min(max(expected, 0), len(lines))
    at_new = _locate(lines, new, expected)
    if at_old is None:
        return None if at_new is None else []
    if at_new is not None and abs(at_new - expected) < abs(at_old - expected):
        return []
    whole = replace_call(lines, at_old, at_old + len(old), new, path)
    if fits(whole):
        lines[at_old : at_old + len(old)] = new
        return [whole]
    calls: list[ToolUse] = []
    for offset, removed, added in _groups(hunk):
        calls.extend(split_replace(lines, at_old + offset, removed, added, path, fits))
    return calls


def _groups(hunk: Hunk) -> list[tuple[int, int, list[str]]]:
    """(offset from the hunk's start, earlier groups applied; lines removed; lines added)."""
    groups: list[tuple[int, int, list[str]]] = []
    cursor = 0
    removed, added = 0, []
    for tag, text in [*hunk.lines, (" ", "")]:
        if tag == "-":
            removed += 1
        elif tag == "+":
            added.append(text)
        else:
            if removed or added:
                groups.append((cursor, removed, added))
                cursor += len(added)
                removed, added = 0, []
            cursor += 1
    return groups


def split_replace(
    lines: Lines, start: int, removed: int, added: list[str], path: str, fits: Fits
) -> list[ToolUse]:
    """Replace ``removed`` lines at ``start`` by ``added`` in as few calls as fit the limit."""
    calls: list[ToolUse] = []
    done_removed = done_added = 0
    while done_removed < removed or done_added < len(added):
        take_removed, take_added = removed - done_removed, len(added) - done_added
        at = start + done_added
        while True:
            piece = added[done_added : done_added + take_added]
            call = replace_call(lines, at, at + take_removed, piece, path)
            if fits(call) or take_removed + take_added <= 1:
                break
            if take_removed > take_added:
                take_removed //= 2
            else:
                take_added //= 2
        lines[at : at + take_removed] = piece
        done_removed += take_removed
        done_added += take_added
        calls.append(call)
    return calls


def replace_call(lines: Lines, start: int, end: int, new: list[str], path: str) -> ToolUse:
    """``str_replace`` of lines[start:end] by ``new``, widened until its old_str is unique."""
    low, high, upward = start, end, True
    # A bare insertion or deletion needs a neighbouring line, or it would leave a blank line.
    bare = start == end or not new
    while True:
        if high > low and (not bare or low < start or high > end):
            old = _join(lines[low:high])
            if old.strip() and _occurrences(lines, old) == 1:
                break
        can_up = low > 0 and lines[low - 1] is not None
        can_down = high < len(lines) and lines[high] is not None
        if not (can_up or can_down):
            break
        if (upward and can_up) or not can_down:
            low -= 1
        else:
            high += 1
        upward = not upward
    new_text = _join([*lines[low:start], *new, *lines[end:high]])
    arguments = {"path": path, "old_str": _join(lines[low:high]), "new_str": new_text}
    return ToolUse("str_replace", arguments)


def create_calls(patch: FilePatch, fits: Fits) -> list[ToolUse]:
    """``create`` with as much of a new file as fits, the rest appended by ``str_replace``."""
    lines = patch.new_lines()
    count = len(lines)
    call = _create(patch.path, lines)
    while not fits(call) and count > 1:
        count //= 2
        call = _create(patch.path, lines[:count])
    current: Lines = list(lines[:count])
    rest = split_replace(current, count, 0, lines[count:], patch.path, fits)
    return [call, *rest]


def _create(path: str, lines: list[str]) -> ToolUse:
    return ToolUse("create", {"path": path, "file_text": "".join(f"{line}\n" for line in lines)})


def _join(lines: Lines) -> str:
    return "\n".join(line or "" for line in lines)


def _locate(lines: Lines, block: list[str], expected: int) -> int | None:
    """Where ``block`` starts in ``lines``, nearest to ``expected``."""
    if not block:
        return None
    size = len(block)
    best: int | None = None
    for at in range(len(lines) - size + 1):
        nearer = best is None or abs(at - expected) < abs(best - expected)
        if nearer and lines[at] == block[0] and lines[at : at + size] == block:
            best = at
    return best


def _occurrences(lines: Lines, needle: str) -> int:
    """How often ``needle`` occurs (overlaps too) in the seen text, counting up to two."""
    count = 0
    segment: list[str] = []
    for line in [*lines, None]:
        if line is not None:
            segment.append(line)
            continue
        text = "\n".join(segment)
        found = text.find(needle)
        while found != -1:
            count += 1
            if count > 1:
                return count
            found = text.find(needle, found + 1)
        segment = []
    return count
