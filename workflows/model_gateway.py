"""The workflow side of every model call: tier, budgets, the global ledger, and failover.

``ModelGateway`` lives inside a workflow (it only uses ``workflow.*`` APIs and calls
activities by name). For each call it picks the tier, reserves an estimate from the task,
issue and global budgets (pausing the run while any is used up, until a person raises it,
the hour renews or the run is cancelled), runs the model activity on the tier's primary
provider, moves the call to the backup provider when the primary is unavailable, and settles
the actual cost. Without ``ModelRunSettings`` it is a plain pass-through of the activity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

from domain import names
from domain.budget import (
    DEFAULT_GLOBAL_RECHECK_SECONDS,
    BudgetLimits,
    BudgetPause,
    BudgetRaise,
    Failover,
    GatewayState,
    ModelGatewayStatus,
    ModelRunSettings,
    ReserveGrant,
    ReserveRequest,
    SettleRequest,
    may_spend,
)
from domain.plan import PlanTask
from domain.tiers import Tier, estimate_call_usd
from domain.usage import TokenUsage
from workflows import options

# Causes that move a call to the backup provider: the primary is down, not the request bad.
FAILOVER_ERRORS = frozenset({names.ERR_PROVIDER_UNAVAILABLE, names.ERR_MODEL_UNAVAILABLE})
DEFAULT_MAX_OUTPUT_TOKENS = 4096
UNTIERED_OUTPUT_CAP = 32_768
# The default of ``ModelRunSettings.global_recheck_seconds``.
GLOBAL_RECHECK = timedelta(seconds=DEFAULT_GLOBAL_RECHECK_SECONDS)


class ModelOutput(Protocol):
    usage: TokenUsage
    provider: str


In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
PauseHook = Callable[[BudgetPause | None], Awaitable[None]]


class ModelGateway:
    def __init__(
        self,
        settings: ModelRunSettings | None,
        on_pause: PauseHook | None = None,
    ) -> None:
        """``on_pause(pause)`` runs when a budget pauses the run, ``on_pause(None)`` on resume."""
        self._settings = settings
        self._limits = settings.budget.model_copy() if settings else None
        self._on_pause = on_pause
        self.status = ModelGatewayStatus()
        self._issue_spent = 0.0
        self._issue_reserved = 0.0
        self._task_spent: dict[str, float] = {}
        self._task_reserved: dict[str, float] = {}
        self._raises = 0
        self._sequence = 0

    # ----- continue-as-new -------------------------------------------------------------------

    def snapshot(self) -> GatewayState:
        """Budgets, raises and usage so far, for the next run of the workflow."""
        return GatewayState(
            limits=self._limits,
            status=self.status,
            issue_spent_usd=self._issue_spent,
            issue_reserved_usd=self._issue_reserved,
            task_spent_usd=self._task_spent,
            task_reserved_usd=self._task_reserved,
            raises=self._raises,
        )

    def restore(self, state: GatewayState) -> None:
        if state.limits is not None:
            self._limits = state.limits
        self.status = state.status
        self._issue_spent = state.issue_spent_usd
        self._issue_reserved = state.issue_reserved_usd
        self._task_spent = dict(state.task_spent_usd)
        self._task_reserved = dict(state.task_reserved_usd)
        self._raises = state.raises

    # ----- the one entry point ----------------------------------------------------------------

    async def call(
        self,
        activity: str,
        input: In,
        output_type: type[Out],
        *,
        stage: str,
        task: PlanTask | None = None,
    ) -> Out:
        if self._settings is None:
            return await _execute(activity, input, output_type, options.MODEL)
        tier = self._settings.routing.tier_for(stage, task)
        spec = self._settings.routing.model_for(tier)
        max_output = int(getattr(input, "max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS))
        estimate = estimate_call_usd(spec, len(input.model_dump_json()), max_output)
        task_id = task.id if task is not None else None
        await self._reserve_local(estimate, task_id)
        reservation = await self._reserve_global(estimate)
        actual = 0.0
        try:
            output = await self._with_failover(activity, input, output_type, stage, task_id, tier)
            usage = _usage_of(output)
            actual = usage.cost_usd
            self.status.add(stage, task_id, tier, usage)
            return output
        except ActivityError as failed:
            # An answer that stayed invalid was paid for; an unreachable provider was not.
            cause = failed.cause
            if not (isinstance(cause, ApplicationError) and cause.type in FAILOVER_ERRORS):
                actual = estimate
            raise
        finally:
            self._settle_local(estimate, actual, task_id)
            if reservation is not None:
                await _execute(
                    names.BUDGET_SETTLE,
                    SettleRequest(reservation_id=reservation, actual_usd=actual),
                    type(None),
                    options.LEDGER,
                )

    def max_output_tokens(self, stage: str, task: PlanTask | None = None) -> int:
        """The output limit of the tier this call goes to; untiered, the activity applies the
        configured model's own limit under this cap."""
        if self._settings is None:
            return UNTIERED_OUTPUT_CAP
        routing = self._settings.routing
        return routing.output_limit(routing.tier_for(stage, task))

    # ----- child tasks -----------------------------------------------------------------------

    def settings_for_task(self, allowance: float | None) -> ModelRunSettings | None:
        """What a child task's own gateway gets: the routing, the global budget, and its
        allowance as its task budget (the issue budget stays here, in the parent)."""
        if self._settings is None or self._limits is None:
            return None
        budget = BudgetLimits(
            task_usd=allowance, global_usd_per_hour=self._limits.global_usd_per_hour
        )
        return self._settings.model_copy(update={"budget": budget})

    async def task_allowance(self, task_id: str) -> float | None:
        """Reserve what a child task may spend: its task limit, capped by what the issue has
        left, so parallel tasks together never overrun the issue budget by more than the calls
        in flight. Waits, paused, while the issue budget is used up."""
        if self._limits is None:
            return None
        while True:
            limits = self._limits
            if limits.issue_usd is None:
                return limits.task_usd
            left = round(limits.issue_usd - self._issue_spent - self._issue_reserved, 6)
            if left > 0:
                break
            pause = BudgetPause(
                scope="issue", limit_usd=limits.issue_usd, spent_usd=self._issue_spent
            )
            await self._pause(pause, timeout=None)
        allowance = left if limits.task_usd is None else min(left, limits.task_usd)
        self._issue_reserved += allowance
        self._task_reserved[task_id] = self._task_reserved.get(task_id, 0.0) + allowance
        return allowance

    def task_finished(
        self,
        task_id: str,
        allowance: float | None,
        child: ModelGatewayStatus | None,
        assumed_spent: float | None = None,
    ) -> None:
        """Release a child's allowance and account what it really spent."""
        spent = child.total.cost_usd if child is not None else (assumed_spent or 0.0)
        self._settle_local(allowance or 0.0, spent, task_id)
        if child is not None:
            self.status.merge(child)

    # ----- human handlers (the workflow's Update delegates here) ------------------------------

    def check_raise(self, request: BudgetRaise) -> None:
        """Validator: only a paused run's budget is raised, and only upwards."""
        if self.status.paused is None or self._limits is None:
            raise ValueError("the run is not paused for budget")
        if request.task_usd is None and request.issue_usd is None:
            raise ValueError("give task_usd or issue_usd")
        for new, old in (
            (request.task_usd, self._limits.task_usd),
            (request.issue_usd, self._limits.issue_usd),
        ):
            if new is not None and old is not None and new <= old:
                raise ValueError(f"the new limit ${new} is not above the current ${old}")

    def raise_budget(self, request: BudgetRaise) -> str:
        assert self._limits is not None
        if request.task_usd is not None:
            self._limits.task_usd = request.task_usd
        if request.issue_usd is not None:
            self._limits.issue_usd = request.issue_usd
        self._raises += 1
        workflow.logger.info("model budget raised by %s", request.by)
        return "budget raised; continuing"

    # ----- budgets ----------------------------------------------------------------------------

    def _local_block(self, amount: float, task_id: str | None) -> BudgetPause | None:
        assert self._limits is not None
        limits = self._limits
        if task_id is not None:
            spent = self._task_spent.get(task_id, 0.0)
            reserved = self._task_reserved.get(task_id, 0.0)
            if not may_spend(limits.task_usd, spent, reserved, amount):
                assert limits.task_usd is not None
                return BudgetPause(
                    scope="task", limit_usd=limits.task_usd, spent_usd=spent, task_id=task_id
                )
        if not may_spend(limits.issue_usd, self._issue_spent, self._issue_reserved, amount):
            assert limits.issue_usd is not None
            return BudgetPause(
                scope="issue", limit_usd=limits.issue_usd, spent_usd=self._issue_spent
            )
        return None

    async def _reserve_local(self, amount: float, task_id: str | None) -> None:
        while (pause := self._local_block(amount, task_id)) is not None:
            await self._pause(pause, timeout=None)
        self._issue_reserved += amount
        if task_id is not None:
            self._task_reserved[task_id] = self._task_reserved.get(task_id, 0.0) + amount

    def _settle_local(self, reserved: float, actual: float, task_id: str | None) -> None:
        self._issue_reserved = max(0.0, self._issue_reserved - reserved)
        self._issue_spent = round(self._issue_spent + actual, 6)
        if task_id is not None:
            self._task_reserved[task_id] = max(
                0.0, self._task_reserved.get(task_id, 0.0) - reserved
            )
            self._task_spent[task_id] = round(self._task_spent.get(task_id, 0.0) + actual, 6)

    async def _reserve_global(self, amount: float) -> str | None:
        assert self._limits is not None
        if self._limits.global_usd_per_hour is None:
            return None
        info = workflow.info()
        self._sequence += 1
        request = ReserveRequest(
            reservation_id=f"{info.workflow_id}:{info.run_id}:{self._sequence}",
            holder=info.workflow_id,
            amount_usd=amount,
            limit_usd_per_hour=self._limits.global_usd_per_hour,
        )
        assert self._settings is not None
        recheck = timedelta(seconds=self._settings.global_recheck_seconds)
        while True:
            grant = await _execute(names.BUDGET_RESERVE, request, ReserveGrant, options.LEDGER)
            if grant.granted:
                await self._resume_from_global()
                return request.reservation_id
            timeout = recheck
            if grant.retry_at is not None:
                timeout = min(timeout, max(timedelta(seconds=1), grant.retry_at - workflow.now()))
            pause = BudgetPause(
                scope="global",
                limit_usd=grant.limit_usd,
                spent_usd=grant.spent_usd,
                retry_at=grant.retry_at,
            )
            await self._pause(pause, timeout=timeout)

    async def _resume_from_global(self) -> None:
        """The ledger granted again: clear a global pause and say so, as a raise would."""
        if self.status.paused is None or self.status.paused.scope != "global":
            return
        self.status.paused = None
        if self._on_pause is not None:
            await self._on_pause(None)

    async def _pause(self, pause: BudgetPause, timeout: timedelta | None) -> None:
        """Wait for a raise (or, for the global budget, the next look at the ledger)."""
        raises = self._raises
        # Announced once per pause: a re-look at the ledger only refreshes the numbers.
        before = self.status.paused
        announce = before is None or (before.scope, before.task_id) != (pause.scope, pause.task_id)
        self.status.paused = pause
        if announce:
            workflow.logger.warning("model budget used up: %s", pause.message())
            if self._on_pause is not None:
                await self._on_pause(pause)
        try:
            await workflow.wait_condition(lambda: self._raises != raises, timeout=timeout)
        except TimeoutError:
            return  # look at the ledger again; the pause stays announced until it clears
        self.status.paused = None
        if self._on_pause is not None:
            await self._on_pause(None)

    # ----- failover ---------------------------------------------------------------------------

    async def _with_failover(
        self,
        activity: str,
        input: In,
        output_type: type[Out],
        stage: str,
        task_id: str | None,
        tier: Tier,
    ) -> Out:
        assert self._settings is not None
        spec = self._settings.routing.model_for(tier)
        primary = input.model_copy(update={"tier": tier, "provider_role": "primary"})
        try:
            output = await _execute(activity, primary, output_type, options.MODEL_PRIMARY)
        except ActivityError as failed:
            cause = failed.cause
            down = isinstance(cause, ActivityTimeout) or (
                isinstance(cause, ApplicationError) and cause.type in FAILOVER_ERRORS
            )
            if not (down and spec.has_backup):
                raise
            why = str(cause.message if isinstance(cause, ApplicationError) else cause)
            failover = Failover(
                stage=stage,
                task_id=task_id,
                tier=tier,
                from_provider=spec.provider,
                to_provider=spec.backup_provider or "",
                cause=why[:300],
                at=workflow.now(),
            )
            self.status.failovers.append(failover)
            workflow.logger.warning(
                "model call of %s moved from %s to %s: %s",
                stage,
                failover.from_provider,
                failover.to_provider,
                failover.cause,
            )
            backup = input.model_copy(update={"tier": tier, "provider_role": "backup"})
            output = await _execute(activity, backup, output_type, options.MODEL_BACKUP)
        return output


def _usage_of(output: Any) -> TokenUsage:
    # Outputs decoded leniently arrive as dicts (see the plan stage); the rest are models.
    if isinstance(output, dict):
        return TokenUsage.model_validate(output.get("usage") or {})
    usage: TokenUsage = output.usage
    return usage


async def _execute(
    activity: str, arg: BaseModel, result_type: type[Any], call: options.CallOptions
) -> Any:
    return await call.execute(activity, arg, result_type)
