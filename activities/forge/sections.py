"""Hidden markers in Autopilot's texts, and the marked section of a PR body.

A cross-repository change keeps its section (``Depends-On:`` lines and the set's table) between
two markers in each PR body; whoever else writes the body (the issue run re-rendering its PR)
keeps that section, so it is rewritten only from the set's one source.
"""

from __future__ import annotations

from domain.cross_repo import PULL_SECTION_MARKER

SECTION_END = f"{PULL_SECTION_MARKER}:end"


def marker_line(marker: str) -> str:
    """The hidden line that identifies Autopilot's comment of one kind on an issue."""
    return f"<!-- autopilot:{marker} -->"


def _bounds(lines: list[str]) -> tuple[int, int] | None:
    begin, end = marker_line(PULL_SECTION_MARKER), marker_line(SECTION_END)
    stripped = [line.strip() for line in lines]
    if begin not in stripped:
        return None
    start = stripped.index(begin)
    if end not in stripped[start:]:
        return None
    return start, stripped.index(end, start)


def replace_section(body: str, section: str) -> str:
    """``body`` with the text between the section markers replaced (appended when absent)."""
    block = f"{marker_line(PULL_SECTION_MARKER)}\n{section.strip()}\n{marker_line(SECTION_END)}"
    lines = body.splitlines()
    bounds = _bounds(lines)
    if bounds is not None:
        start, stop = bounds
        return "\n".join([*lines[:start], block, *lines[stop + 1 :]])
    return f"{body.rstrip()}\n\n{block}" if body.strip() else block


def section_of(body: str) -> str | None:
    """The text between the section markers, or None when the body has no section."""
    lines = body.splitlines()
    bounds = _bounds(lines)
    if bounds is None:
        return None
    start, stop = bounds
    return "\n".join(lines[start + 1 : stop])


def keeping_section(old: str, new: str) -> str:
    """``new``, carrying over the marked section of ``old`` when ``new`` has none."""
    section = section_of(old)
    if section is None or section_of(new) is not None:
        return new
    return replace_section(new, section)
