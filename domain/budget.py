"""Budgets (per task, per issue, global per hour) and the ledger's requests and answers.

A budget is spent by reserving an estimate before a call and settling the actual cost after
it. ``may_spend`` is the one rule every budget follows: a reservation fits when it keeps
everything within the limit, or when it is the only call in flight and something is left.
So a budget is never exceeded by more than the one call in flight when it ran out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.tiers import ModelRouting
from domain.usage import TokenUsage

# The global ledger: one long-running workflow with a well-known id, spoken to by activities.

WINDOW = timedelta(hours=1)
# While the global budget is used up, a paused run looks at the ledger again this often. A raise
# wakes it sooner: the ledger signals the runs it refused (``BUDGET_AVAILABLE_SIGNAL``).
DEFAULT_GLOBAL_RECHECK_SECONDS = 300.0
# The signal the ledger sends a run it refused when the limit goes up; the gateway handles it.
BUDGET_AVAILABLE_SIGNAL = "budget_available"
# The key, in the details of a failed model activity's ApplicationError, of what it paid for.
USAGE_DETAIL = "usage"
# The key, in the details of a failed TaskWorkflow's ApplicationError, of its gateway's books.
GATEWAY_DETAIL = "gateway"
# A reservation never settled (its run died) stops holding budget after this long.
RESERVATION_TTL = timedelta(hours=1)

BudgetScope = Literal["task", "issue", "global"]


def may_spend(limit: float | None, spent: float, reserved: float, amount: float) -> bool:
    if limit is None:
        return True
    if spent + reserved + amount <= limit:
        return True
    return reserved <= 0 and spent < limit


def hour_window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def failed_call_usage(error: BaseException | None) -> TokenUsage | None:
    """What a failed model call was paid for, when its ApplicationError's details say so (an
    answer still invalid after the re-asks, a provider error during a re-ask); else None."""
    details: Sequence[Any] = getattr(error, "details", None) or ()
    first = details[0] if details else None
    if isinstance(first, dict) and isinstance(first.get(USAGE_DETAIL), dict):
        return TokenUsage.model_validate(first[USAGE_DETAIL])
    return None


class BudgetLimits(BaseModel):
    """Hard limits in USD; None means unlimited (and no ledger call for the global one)."""

    task_usd: float | None = Field(default=None, gt=0)
    issue_usd: float | None = Field(default=None, gt=0)
    global_usd_per_hour: float | None = Field(default=None, gt=0)


class ModelRunSettings(BaseModel):
    """Everything the workflow-side model gateway needs; carried in the run's input."""

    routing: ModelRouting
    budget: BudgetLimits = Field(default_factory=BudgetLimits)
    global_recheck_seconds: float = Field(
        default=DEFAULT_GLOBAL_RECHECK_SECONDS,
        ge=1,
        description="How often a run paused by the global budget asks the ledger again",
    )


class BudgetRaise(BaseModel):
    """A person raising a run's budget after it paused (Update ``raise_budget``)."""

    by: str = Field(min_length=1)
    task_usd: float | None = Field(default=None, gt=0)
    issue_usd: float | None = Field(default=None, gt=0)


def budget_name(scope: BudgetScope, task_id: str | None = None) -> str:
    """How messages name a budget: ``the model budget of task 'a'``."""
    if scope == "task":
        return f"the model budget of task {task_id!r}"
    if scope == "issue":
        return "the model budget of this issue"
    return "the hourly model budget shared by all runs"


class BudgetPause(BaseModel):
    """Why a run stopped before a model call, for its status and the comment it posts."""

    scope: BudgetScope
    limit_usd: float
    spent_usd: float
    task_id: str | None = None
    retry_at: datetime | None = None

    def message(self) -> str:
        what = budget_name(self.scope, self.task_id)
        text = (
            f"⏸️ {what[0].upper()}{what[1:]} is used up (${self.spent_usd:.4f} of "
            f"${self.limit_usd:.4f})."
        )
        if self.scope == "global":
            when = f" at {self.retry_at:%H:%M} UTC" if self.retry_at else ""
            return text + (
                f" The run continues when the hourly budget renews{when} or is raised "
                "(`budget.global_usd_per_hour` in the workers' configuration, or the budget "
                "ledger's `raise_limit` Update)."
            )
        flag, field = f"--{self.scope}-usd", f"{self.scope}_usd"
        where = "the `raise_budget` Update"
        if self.scope == "task" and self.task_id:
            # A task's own budget is held by its own workflow, not by the issue's run.
            flag = f"--task {self.task_id} {flag}"
            where += " of the task's workflow (`…/task/<id>`)"
        return text + (
            f" Raise it (`python -m starters.steer --repo … --issue … raise-budget {flag} …`,"
            f" or {where} with `{field}`), or cancel the run."
        )


class ReserveRequest(BaseModel):
    reservation_id: str = Field(min_length=1, description="Deterministic: retries are no-ops")
    holder: str = Field(min_length=1, description="The workflow id reserving")
    amount_usd: float = Field(ge=0)
    limit_usd_per_hour: float | None = Field(
        default=None,
        gt=0,
        description="The configured limit: the ledger starts with it, and follows it when the "
        "configuration changes (see ``configured_at``)",
    )
    configured_at: datetime | None = Field(
        default=None,
        description="When the worker sending the request loaded its configuration; the ledger "
        "follows the latest one. None (requests of older workers): the limit only starts it",
    )


class ReserveGrant(BaseModel):
    granted: bool
    reservation_id: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float
    retry_at: datetime | None = Field(default=None, description="When a refused call may retry")


class SettleRequest(BaseModel):
    reservation_id: str = Field(min_length=1)
    actual_usd: float = Field(ge=0)


class RaiseLimitRequest(BaseModel):
    by: str = Field(min_length=1)
    limit_usd_per_hour: float = Field(gt=0)


class Reservation(BaseModel):
    holder: str
    amount_usd: float
    reserved_at: datetime


class LedgerState(BaseModel):
    """The ledger's whole state; carried across continue-as-new."""

    limit_usd_per_hour: float = Field(gt=0)
    window_start: datetime | None = None
    spent_usd: float = 0.0
    reservations: dict[str, Reservation] = Field(default_factory=dict)
    settled: list[str] = Field(default_factory=list, description="Recent ids, for idempotency")
    granted_calls: int = 0
    refused_calls: int = 0
    configured_usd_per_hour: float | None = Field(
        default=None, description="The latest configured limit seen (a raise may be above it)"
    )
    configured_at: datetime | None = None
    waiting: dict[str, datetime] = Field(
        default_factory=dict, description="Holders refused since their last grant: woken on a raise"
    )

    @property
    def reserved_usd(self) -> float:
        return round(sum(r.amount_usd for r in self.reservations.values()), 6)


class LedgerInput(BaseModel):
    state: LedgerState
    max_operations_per_run: int = Field(default=1000, gt=0)


class Failover(BaseModel):
    """One call moved from its tier's primary provider to the backup, and why."""

    stage: str
    task_id: str | None = None
    tier: str
    from_provider: str
    to_provider: str
    cause: str
    at: datetime


class ModelGatewayStatus(BaseModel):
    """The model side of a run's status: usage and cost, failovers, and a budget pause."""

    usage_by_stage: dict[str, TokenUsage] = Field(default_factory=dict)
    usage_by_task: dict[str, TokenUsage] = Field(default_factory=dict)
    total: TokenUsage = Field(default_factory=TokenUsage)
    tiers: dict[str, str] = Field(default_factory=dict, description="stage or task -> tier")
    # Why: "stage or task -> reason"; a stage's row lists every tier and reason its calls had
    # (the tasks' own reasons are in the breakdown by task).
    tier_reasons: dict[str, str] = Field(default_factory=dict)
    stage_tiers: dict[str, list[str]] = Field(default_factory=dict)
    stage_reasons: dict[str, list[str]] = Field(default_factory=dict)
    failovers: list[Failover] = Field(default_factory=list)
    paused: BudgetPause | None = None

    def add(
        self, stage: str, task_id: str | None, tier: str, usage: TokenUsage, reason: str = ""
    ) -> None:
        self.usage_by_stage[stage] = self.usage_by_stage.get(stage, TokenUsage()) + usage
        if task_id is not None:
            self.usage_by_task[task_id] = self.usage_by_task.get(task_id, TokenUsage()) + usage
        self.tiers[task_id or stage] = tier
        if reason:
            self.tier_reasons[task_id or stage] = reason
        _add_once(self.stage_tiers, stage, [tier])
        _add_once(self.stage_reasons, stage, [reason])
        self.total = self.total + usage

    def merge(self, child: ModelGatewayStatus) -> None:
        """Fold a child task's model usage into this (the issue's) status."""
        for stage, usage in child.usage_by_stage.items():
            self.usage_by_stage[stage] = self.usage_by_stage.get(stage, TokenUsage()) + usage
        for task_id, usage in child.usage_by_task.items():
            self.usage_by_task[task_id] = self.usage_by_task.get(task_id, TokenUsage()) + usage
        self.tiers.update(child.tiers)
        self.tier_reasons.update(child.tier_reasons)
        for stage, tiers in child.stage_tiers.items():
            _add_once(self.stage_tiers, stage, tiers)
        for stage, reasons in child.stage_reasons.items():
            _add_once(self.stage_reasons, stage, reasons)
        self.failovers.extend(child.failovers)
        self.total = self.total + child.total

    def markdown(self) -> str:
        """Tables for the progress comment and the PR body: each call once, by stage, so the
        rows add up to the total; below, the same calls of plan tasks, by task."""
        stage_rows = {
            stage: (
                self.stage_tier(stage),
                "; ".join(r for r in self.stage_reasons.get(stage, [])),
            )
            for stage in self.usage_by_stage
        }
        lines = [*_usage_table("stage", self.usage_by_stage, stage_rows)]
        t = self.total
        lines.append(
            f"| **total** | | {t.calls} ({t.cached_calls}) | {t.input_tokens} / "
            f"{t.output_tokens} | **${t.cost_usd:.4f}** | |"
        )
        if self.usage_by_task:
            task_rows = {
                task: (self.tiers.get(task, ""), self.tier_reasons.get(task, ""))
                for task in self.usage_by_task
            }
            lines += [
                "",
                "By plan task (a breakdown of the calls above, already in the total):",
                "",
                *_usage_table("task", self.usage_by_task, task_rows),
            ]
        for f in self.failovers:
            lines.append(
                f"\n⚠️ {f.stage}{f' (task {f.task_id})' if f.task_id else ''}: moved from "
                f"{f.from_provider} to {f.to_provider}: {f.cause}"
            )
        if self.paused is not None:
            lines.append("\n" + self.paused.message())
        return "\n".join(lines)

    def stage_tier(self, stage: str) -> str:
        """Every tier the stage's calls went to; runs from before reasons were kept named the
        tier of stage-level calls only."""
        tiers = self.stage_tiers.get(stage) or [self.tiers.get(stage, "")]
        return ", ".join(t for t in tiers if t) or "untiered"


def _add_once(into: dict[str, list[str]], key: str, values: list[str]) -> None:
    known = into.setdefault(key, [])
    known.extend(v for v in values if v and v not in known)


def _usage_table(
    key: str, usage: dict[str, TokenUsage], tiers: dict[str, tuple[str, str]]
) -> list[str]:
    """One row per stage or task; ``tiers``: name -> (tier, why it was chosen)."""
    lines = [
        f"| {key} | tier | calls (cached) | tokens in / out | cost | why this tier |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, u in usage.items():
        tier, why = tiers.get(name, ("", ""))
        lines.append(
            f"| {name} | {tier or 'untiered'} | {u.calls} ({u.cached_calls}) | "
            f"{u.input_tokens} / {u.output_tokens} | ${u.cost_usd:.4f} | {why} |"
        )
    return lines


class GatewayState(BaseModel):
    """Everything a run's model gateway knows, carried across continue-as-new."""

    limits: BudgetLimits | None = Field(default=None, description="As raised so far")
    status: ModelGatewayStatus = Field(default_factory=ModelGatewayStatus)
    issue_spent_usd: float = 0.0
    issue_reserved_usd: float = 0.0
    task_spent_usd: dict[str, float] = Field(default_factory=dict)
    task_reserved_usd: dict[str, float] = Field(default_factory=dict)
    raises: int = 0


def failed_task_books(error: BaseException | None) -> GatewayState | None:
    """A failed child task's model usage and spending, when its error's details carry them."""
    details: Sequence[Any] = getattr(error, "details", None) or ()
    first = details[0] if details else None
    if isinstance(first, dict) and isinstance(first.get(GATEWAY_DETAIL), dict):
        return GatewayState.model_validate(first[GATEWAY_DETAIL])
    return None
