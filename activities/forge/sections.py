"""The marked sections of a PR body (``domain.pull_body``), found and replaced.

A cross-repository change keeps its section (``Depends-On:`` lines and the set's table) between
two markers in each PR body; whoever else writes the body (the issue run re-rendering its PR)
keeps that section, so it is rewritten only from the set's one source.
"""

from __future__ import annotations

from domain.cross_repo import PULL_SECTION_MARKER
from domain.pull_body import end_marker, marker_line, section_block


def _bounds(lines: list[str], marker: str) -> tuple[int, int] | None:
    begin, end = marker_line(marker), marker_line(end_marker(marker))
    stripped = [line.strip() for line in lines]
    if begin not in stripped:
        return None
    start = stripped.index(begin)
    if end not in stripped[start:]:
        return None
    return start, stripped.index(end, start)


def replace_section(body: str, section: str, marker: str = PULL_SECTION_MARKER) -> str:
    """``body`` with the text between the section markers replaced (appended when absent)."""
    block = section_block(marker, section)
    lines = body.splitlines()
    bounds = _bounds(lines, marker)
    if bounds is not None:
        start, stop = bounds
        return "\n".join([*lines[:start], block, *lines[stop + 1 :]])
    return f"{body.rstrip()}\n\n{block}" if body.strip() else block


def section_of(body: str, marker: str = PULL_SECTION_MARKER) -> str | None:
    """The text between the section markers, or None when the body has no section."""
    lines = body.splitlines()
    bounds = _bounds(lines, marker)
    if bounds is None:
        return None
    start, stop = bounds
    return "\n".join(lines[start + 1 : stop])


def keeping_section(old: str, new: str) -> str:
    """``new``, carrying over the cross-repository section of ``old`` when ``new`` has none."""
    section = section_of(old)
    if section is None or section_of(new) is not None:
        return new
    return replace_section(new, section)
