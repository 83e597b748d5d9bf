"""Marked sections of a PR body: text between two hidden lines, each rewritten by one writer.

A cross-repository change owns its ``Depends-On:`` section (``domain.cross_repo``); the issue
run owns the status section (tests, how the change was made, cost), which it rewrites after
every answer to a review so the body describes the head, not the first commit.
"""

from __future__ import annotations

PULL_STATUS_MARKER = "pull-status"


def marker_line(marker: str) -> str:
    """The hidden line that identifies one kind of Autopilot text (a comment, a section)."""
    return f"<!-- autopilot:{marker} -->"


def end_marker(marker: str) -> str:
    return f"{marker}:end"


def section_block(marker: str, text: str) -> str:
    """``text`` between the markers of section ``marker``."""
    return f"{marker_line(marker)}\n{text.strip()}\n{marker_line(end_marker(marker))}"
