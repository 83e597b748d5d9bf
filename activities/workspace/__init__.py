"""Workspace activities: git checkouts of a work branch, untrusted edits, test runs, diffs."""

from activities.workspace.activities import WorkspaceActivities

__all__ = ["WorkspaceActivities"]
