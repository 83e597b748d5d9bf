"""The deployment's mode: one control for every run (``ControlWorkflow`` holds it).

``normal``; ``minimal`` (no model review, no optional stages); ``read-only`` (no new runs,
running ones hold at their next stage and before any write to the forge); ``emergency-stop``
(every run holds at its next activity and continues exactly there when released).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from domain import names

DeploymentMode = Literal["normal", "minimal", "read-only", "emergency-stop"]
MODES: tuple[str, ...] = get_args(DeploymentMode)
# Modes in which no new run starts and no running one enters a stage.
HOLDING = frozenset({"read-only", "emergency-stop"})

# The workflow types that hold for the mode (a cross-repository set merges and comments).
GOVERNED = (names.ISSUE_WORKFLOW, names.TASK_WORKFLOW, names.CROSS_REPO_WORKFLOW)

# Activities that write to the forge (its API, or a git push to it): held in ``read-only``.
FORGE_WRITES = frozenset(
    {
        names.ENSURE_LABELS,
        names.SET_ISSUE_LABELS,
        names.UPSERT_COMMENT,
        names.OPEN_PULL_REQUEST,
        names.ENSURE_LINKED_ISSUE,
        names.UPDATE_PULL_SECTION,
        names.MERGE_PULL,
        names.CLOSE_PULL,
        names.DELETE_BRANCH,
        names.PREPARE_WORKSPACE,
        names.APPLY_EDITS,
        names.ENSURE_BRANCH,
        names.INTEGRATE,
        names.REVERT_MERGE,
        names.RUN_TOOLS,
    }
)


class ModeState(BaseModel):
    """The mode, who set it, when and why; ``set_at`` None is the never-set default."""

    mode: DeploymentMode = "normal"
    set_by: str = ""
    set_at: datetime | None = None
    reason: str = ""

    def allows_stage(self) -> bool:
        return self.mode not in HOLDING

    def allows_activity(self, activity: str) -> bool:
        if self.mode == "emergency-stop":
            return False
        return not (self.mode == "read-only" and activity in FORGE_WRITES)

    def allows_turn(self) -> bool:
        return self.mode != "emergency-stop"

    def describe(self) -> str:
        """One line for comments and the CLI: ``minimal (set by alice at ...: reason)``."""
        if self.set_at is None:
            return self.mode
        when = self.set_at.strftime("%Y-%m-%d %H:%M UTC")
        why = f": {self.reason}" if self.reason else ""
        return f"{self.mode} (set by {self.set_by} at {when}{why})"


class SetModeRequest(BaseModel):
    """The ``set_mode`` Update: ``by`` is who asks (a person, or ``breaker:<provider>``)."""

    mode: DeploymentMode
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class ControlInput(BaseModel):
    """The control workflow's input; carried across continue-as-new."""

    state: ModeState = Field(default_factory=ModeState)
    unsent: bool = False  # a change not yet pushed to the runs


class BroadcastModeInput(BaseModel):
    state: ModeState
    started_after: datetime | None = Field(
        default=None, description="Only runs started after this (None: every running run)"
    )
    workflow_types: list[str] = Field(default_factory=lambda: list(GOVERNED))
