"""The edit tools on one checked path: create, str_replace, insert.

Paths arrive already checked (``paths.safe_edit_path``); the text the model sends is checked
here (``paths.content_problem``). A refusal or a miss is a :class:`ToolError` that shows the
model what to do next: the nearest lines for an old_str that is not there, every place of one
that is there several times.
"""

from __future__ import annotations

import difflib
import heapq
import os
from pathlib import Path

from activities.workspace import python_source
from activities.workspace.paths import content_problem
from activities.workspace.tools.args import ToolError
from activities.workspace.tools.text import (
    MAX_FILE_BYTES,
    line_of,
    numbered,
    read_text,
    split_lines,
)

SNIPPET_CONTEXT = 3  # lines shown around an edit
SNIPPET_LINES = 40
CANDIDATES = 3  # nearest lines shown when old_str is not found
CANDIDATE_CUTOFF = 0.6
ROUGH_CANDIDATES = 200  # lines whose real ratio is computed
PLACES = 10  # occurrences listed when old_str is found several times


def create(checkout: Path, rel: str, content: str, max_bytes: int) -> str:
    _check_new("content", content, max_bytes)
    target = checkout / rel
    if target.is_dir():
        raise ToolError(f"{rel} is a directory; give a file path")
    existed = target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, rel, content)
    verb = "overwrote" if existed else "created"
    return f"{verb} {rel} ({len(split_lines(content))} lines){_syntax_warning(rel, content)}"


def str_replace(checkout: Path, rel: str, old: str, new: str, max_bytes: int) -> str:
    if not old:
        raise ToolError(
            "old_str is empty; use insert to add lines, or create to write a whole file"
        )
    _check_new("new_str", new, max_bytes)
    if old == new:
        raise ToolError("old_str and new_str are the same; nothing would change")
    file = read_text(checkout, rel)
    text = file.text
    if file.crlf and "\n" in old and "\r\n" not in old and text.count(_crlf(old)):
        # The model writes \n; the file has \r\n. Same text, so take it, in the file's style.
        old, new = _crlf(old), _crlf(new)
    count = text.count(old)
    if count == 0:
        raise ToolError(_not_found(rel, text, old))
    if count > 1:
        raise ToolError(_several(rel, text, old, count))
    index = text.index(old)
    result = text[:index] + new + text[index + len(old) :]
    _write(checkout / rel, rel, result)
    first = line_of(text, index)
    replaced = old.count("\n") + (0 if old.endswith("\n") else 1)
    added = new.count("\n") + (0 if new.endswith("\n") or not new else 1)
    head = (
        f"edited {rel}: replaced lines {first}-{first + replaced - 1} "
        f"with {added} line{'s' * (added != 1)}"
    )
    return head + _snippet(result, first, first + max(added, 1) - 1) + _warning(rel, text, result)


def insert(checkout: Path, rel: str, after: int, new: str, max_bytes: int) -> str:
    if after < 0:
        raise ToolError(f"insert_line must be 0 (the top) or a line number, not {after}")
    if not new:
        raise ToolError("new_str is empty; nothing to insert")
    _check_new("new_str", new, max_bytes)
    file = read_text(checkout, rel)
    text = file.text
    total = len(split_lines(text))
    if after > total:
        raise ToolError(
            f"insert_line {after} is past the end: {rel} has {total} lines "
            f"(insert_line {total} appends at the end)"
        )
    newline = "\r\n" if file.crlf else "\n"
    piece = new if new.endswith("\n") else new + "\n"
    if file.crlf:
        piece = _crlf(piece)
    offset = _offset_after(text, after)
    prefix = text[:offset]
    if prefix and not prefix.endswith("\n"):  # the last line had no newline of its own
        prefix += newline
    result = prefix + piece + text[offset:]
    _write(checkout / rel, rel, result)
    count = piece.count("\n")
    head = f"inserted {count} line{'s' * (count != 1)} after line {after} of {rel}"
    return head + _snippet(result, after + 1, after + count) + _warning(rel, text, result)


def _check_new(name: str, value: str, max_bytes: int) -> None:
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError(f"{name} is not valid Unicode text (it holds a lone surrogate)") from None
    problem = content_problem(data, max_bytes)
    if problem:
        raise ToolError(f"refused: {name}: {problem}")


def _write(target: Path, rel: str, text: str) -> None:
    data = text.encode("utf-8", errors="surrogateescape")
    if len(data) > MAX_FILE_BYTES:
        raise ToolError(f"refused: {rel} would grow past {MAX_FILE_BYTES} bytes")
    # O_NOFOLLOW: the path was checked for symlinks; this refuses one that appeared since.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with open(fd, "wb") as f:
        f.write(data)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _offset_after(text: str, line: int) -> int:
    """The index just past line ``line``'s newline (0: the start; past the end: the end)."""
    offset = 0
    for _ in range(line):
        found = text.find("\n", offset)
        if found == -1:
            return len(text)
        offset = found + 1
    return offset


def _snippet(text: str, first: int, last: int) -> str:
    """The edited lines with a little context, numbered, so the model sees the result."""
    lines = split_lines(text)
    start = max(1, first - SNIPPET_CONTEXT)
    end = min(len(lines), last + SNIPPET_CONTEXT, start + SNIPPET_LINES - 1)
    if end < start:
        return ""
    body, _ = numbered(lines[start - 1 : end], start)
    return f"; lines {start}-{end} now:\n{body.rstrip()}"


def _warning(rel: str, before: str, after: str) -> str:
    """A Python file that parsed before and does not now: said at once, not at the test run."""
    if not rel.endswith(".py") or _syntax_error(before) is not None:
        return ""
    return _syntax_warning(rel, after)


def _syntax_warning(rel: str, text: str) -> str:
    if not rel.endswith(".py"):
        return ""
    error = _syntax_error(text)
    return f"\nwarning: {rel} does not parse as Python now: {error}" if error else ""


def _syntax_error(text: str) -> str | None:
    try:
        python_source.parse(text)
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    except (ValueError, UnicodeError, RecursionError, MemoryError):
        return None  # not something a syntax warning can explain
    return None


def _not_found(rel: str, text: str, old: str) -> str:
    lines = split_lines(text)
    message = [f"old_str was not found in {rel}; it must match the file exactly."]
    loose = _loose_match(lines, old)
    if loose is not None:
        message.append(
            f"It matches lines {loose[0]}-{loose[1]} if whitespace at the ends of lines is "
            "ignored: copy those lines exactly, indentation included."
        )
    first = next((line.strip() for line in old.split("\n") if line.strip()), "")
    nearest = _nearest(lines, first)
    if nearest:
        width = max(1, min(len(split_lines(old)), 6))
        message.append(f"The lines most like its first line ({first[:120]!r}):")
        for number in nearest:
            body, _ = numbered(lines[number - 1 : number - 1 + width], number, 2_000)
            message.append(body.rstrip() + "\n--")
    else:
        message.append(f"No line of {rel} resembles its first line ({first[:120]!r}).")
    message.append("View the file to copy the text you mean.")
    return "\n".join(message)


def _loose_match(lines: list[str], old: str) -> tuple[int, int] | None:
    """Where ``old`` occurs if each line's leading and trailing whitespace is ignored."""
    wanted = [line.strip() for line in old.strip("\n").split("\n")]
    if not wanted or not any(wanted):
        return None
    stripped = [line.strip() for line in lines]
    for i in range(len(stripped) - len(wanted) + 1):
        if stripped[i] == wanted[0] and stripped[i : i + len(wanted)] == wanted:
            return i + 1, i + len(wanted)
    return None


def _nearest(lines: list[str], first: str) -> list[int]:
    """Line numbers of the lines most like ``first`` (difflib's ratio), best first."""
    if not first:
        return []
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(first)
    rough: list[tuple[float, int]] = []
    for number, line in enumerate(lines, start=1):
        candidate = line.strip()
        if not candidate:
            continue
        matcher.set_seq1(candidate)
        # Cheap upper bounds first; the real ratio only for the best of them (large files).
        if matcher.real_quick_ratio() >= CANDIDATE_CUTOFF:
            quick = matcher.quick_ratio()
            if quick >= CANDIDATE_CUTOFF:
                rough.append((quick, -number))
    scored: list[tuple[float, int]] = []
    for _, negative in heapq.nlargest(ROUGH_CANDIDATES, rough):
        matcher.set_seq1(lines[-negative - 1].strip())
        ratio = matcher.ratio()
        if ratio >= CANDIDATE_CUTOFF:
            scored.append((ratio, negative))
    return [-negative for _, negative in heapq.nlargest(CANDIDATES, scored)]


def _several(rel: str, text: str, old: str, count: int) -> str:
    places: list[int] = []
    index = text.find(old)
    while index != -1 and len(places) < PLACES:
        places.append(line_of(text, index))
        index = text.find(old, index + len(old))
    lines = split_lines(text)
    shown = "\n".join(numbered(lines[n - 1 : n], n)[0].rstrip() for n in places)
    more = f" (first {PLACES} shown)" if count > PLACES else ""
    return (
        f"old_str occurs {count} times in {rel}{more}, at lines "
        f"{', '.join(map(str, places))}; it must occur exactly once. Include more of the "
        f"surrounding lines to pick one:\n{shown}"
    )
