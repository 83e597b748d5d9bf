"""The background schedules' inputs and findings: stuck runs, maintenance, the cost report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.mode import ModeState

StuckReason = Literal["waiting", "retrying", "no_progress", "failed_silently"]
# A pending activity on this attempt or later keeps failing: the run is not moving.
RETRYING_ATTEMPTS = 5


class StuckRunsInput(BaseModel):
    forge_url: str = Field(description="Where the runs' issues live (for the comments)")
    stuck_after_seconds: int = Field(gt=0)


class StuckRun(BaseModel):
    workflow_id: str
    repo: str = Field(description="owner/name")
    issue: int
    reason: StuckReason
    detail: str
    since: datetime | None = None

    def comment(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
        headline = {
            "waiting": "is waiting",
            "retrying": "keeps retrying",
            "no_progress": "has made no progress",
            "failed_silently": "ended without reporting why",
        }[self.reason]
        return (
            f"🩺 Autopilot's monitor: this issue's run {headline}{since}: {self.detail}\n\n"
            f"Run: `{self.workflow_id}`"
        )


class StuckRunsReport(BaseModel):
    checked: int = 0
    stuck: list[StuckRun] = Field(default_factory=list)
    mode: ModeState = Field(
        default_factory=ModeState, description="The deployment's mode: no comments unless it allows"
    )


class MaintenanceInput(BaseModel):
    prune_after_days: int = Field(gt=0)


class MaintenanceReport(BaseModel):
    branches_deleted: list[str] = Field(default_factory=list, description="owner/name:branch")
    branches_kept_for_mode: bool = Field(
        default=False, description="The mode (read-only, emergency-stop) allowed no deletion"
    )
    workspaces_pruned: int = 0
    environments_pruned: int = 0
    bytes_freed: int = 0


class CostReportInput(BaseModel):
    hours: int = Field(default=24, gt=0)


class RepoCost(BaseModel):
    repo: str
    runs: int = 0
    cost_usd: float = 0.0


class CostReport(BaseModel):
    since: datetime
    repos: list[RepoCost] = Field(default_factory=list)
    mode: ModeState = Field(default_factory=ModeState)

    def markdown(self) -> str:
        lines = [
            f"### Autopilot cost since {self.since:%Y-%m-%d %H:%M} UTC",
            "",
            "| repository | runs ended | cost (USD) |",
            "|---|---:|---:|",
        ]
        lines += [f"| {r.repo} | {r.runs} | {r.cost_usd:.4f} |" for r in self.repos]
        total = sum(r.cost_usd for r in self.repos)
        lines.append(f"| **total** | {sum(r.runs for r in self.repos)} | {total:.4f} |")
        return "\n".join(lines)


class CostReportWorkflowInput(BaseModel):
    forge_url: str
    report_issue: str | None = Field(
        default=None, description="owner/name#N to comment on; None: a log line only"
    )
    hours: int = Field(default=24, gt=0)


# Metrics of the schedules (workflow side, through the SDK's workflow meter).
STUCK_RUNS_METRIC = "autopilot_stuck_runs"
REPO_COST_METRIC = "autopilot_repo_cost_usd"
