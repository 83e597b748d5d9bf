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
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import names
from domain.budget import (
    BUDGET_AVAILABLE_SIGNAL,
    BudgetLimits,
    BudgetPause,
    BudgetRaise,
    GatewayState,
    ModelGatewayStatus,
    ModelRunSettings,
    ReserveGrant,
    ReserveRequest,
    SettleRequest,
    budget_name,
    failed_task_books,
    may_spend,
)
from domain.plan import PlanTask
from domain.tiers import Tier, estimate_call_usd
from domain.usage import TokenUsage
from workflows import options
from workflows.model_failover import Bill, with_failover

DEFAULT_MAX_OUTPUT_TOKENS = 4096
UNTIERED_OUTPUT_CAP = 32_768


In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
PauseHook = Callable[[BudgetPause | None], Awaitable[None]]
# Whether the pause in force would still hold under these limits (None: it would lift).
StillBlocked = Callable[[BudgetLimits], BudgetPause | None]


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
        self._wakes = 0  # budget_available signals from the ledger
        self._still_blocked: StillBlocked | None = None
        if settings is not None and settings.budget.global_usd_per_hour is not None:
            workflow.set_signal_handler(BUDGET_AVAILABLE_SIGNAL, self._budget_available)

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
        tier: Tier | None = None,
    ) -> Out:
        """``tier`` overrides the stage's tier (a reviewer of the panel on its own tier)."""
        if self._settings is None:
            return await _execute(activity, input, output_type, options.MODEL)
        chosen, reason = self._settings.routing.explain_tier(stage, task)
        if tier is not None and tier != chosen:
            chosen, reason = tier, f"reviewer panel ({stage})"
        tier = chosen
        spec = self._settings.routing.model_for(tier)
        max_output = int(getattr(input, "max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS))
        estimate = estimate_call_usd(spec, len(input.model_dump_json()), max_output)
        task_id = task.id if task is not None else None
        await self._reserve_local(estimate, task_id)
        reservation = await self._reserve_global(estimate)
        bill = Bill(self.status, stage, task_id, tier, reason)
        workflow.logger.info("model call of %s at tier %s: %s", stage, tier, reason)
        try:
            output = await with_failover(self._settings.routing, activity, input, output_type, bill)
            bill.add(_usage_of(output))
            return output
        except ActivityError as failed:
            bill.failed(failed, estimate)
            raise
        finally:
            self._settle_local(estimate, bill.cost, task_id)
            if reservation is not None:
                await _execute(
                    names.BUDGET_SETTLE,
                    SettleRequest(reservation_id=reservation, actual_usd=bill.cost),
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
        while (pause := self._allowance_block(self._limits)) is not None:
            await self._pause(pause, timeout=None, still_blocked=self._allowance_block)
        limits = self._limits
        if limits.issue_usd is None:
            return limits.task_usd
        left = round(limits.issue_usd - self._issue_spent - self._issue_reserved, 6)
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

    def task_failed(
        self, task_id: str, allowance: float | None, error: BaseException | None
    ) -> None:
        """Release a failed child's allowance: what it spent and its calls when its error
        carries its books, else the whole allowance counted as spent."""
        books = failed_task_books(error)
        if books is None:
            self.task_finished(task_id, allowance, None, assumed_spent=allowance)
            return
        self._settle_local(allowance or 0.0, books.issue_spent_usd, task_id)
        self.status.merge(books.status)

    # ----- human handlers (the workflow's Update delegates here) ------------------------------

    def check_raise(self, request: BudgetRaise) -> None:
        """Validator: only a raise that lifts the pause in force is accepted, so the answer
        "continuing" is true; a refusal says what would lift it."""
        pause, still_blocked = self.status.paused, self._still_blocked
        if pause is None or self._limits is None:
            raise ValueError("the run is not paused for budget")
        if pause.scope == "global" or still_blocked is None:
            raise ValueError(
                "the run waits for the global hourly budget, which raise_budget does not "
                "change: raise `budget.global_usd_per_hour` in the workers' configuration or "
                "with the budget ledger's `raise_limit` Update"
            )
        if request.task_usd is None and request.issue_usd is None:
            raise ValueError("give task_usd or issue_usd")
        for new, old in (
            (request.task_usd, self._limits.task_usd),
            (request.issue_usd, self._limits.issue_usd),
        ):
            if new is not None and old is not None and new <= old:
                raise ValueError(f"the new limit ${new} is not above the current ${old}")
        still = still_blocked(_raised(self._limits, request))
        if still is None:
            return
        what = budget_name(still.scope, still.task_id)
        flag = f"--{still.scope}-usd ({still.scope}_usd)"
        if getattr(request, f"{still.scope}_usd") is None:
            raise ValueError(
                f"that does not lift the pause: {what} is used up; raise it with {flag}"
            )
        raise ValueError(
            f"that does not lift the pause: ${still.limit_usd} would still not cover what "
            f"was spent against {what} (${still.spent_usd:.4f}) and is held for calls in "
            "flight; "
            f"raise {flag} further"
        )

    def raise_budget(self, request: BudgetRaise) -> str:
        """The Update: the validator has checked that the raise lifts the pause."""
        assert self._limits is not None
        self._limits = _raised(self._limits, request)
        self._raises += 1
        raised = ", ".join(
            f"{name} ${value}"
            for name, value in (("task", request.task_usd), ("issue", request.issue_usd))
            if value is not None
        )
        workflow.logger.info("model budget raised by %s: %s", request.by, raised)
        return f"budget raised ({raised}); continuing"

    # ----- budgets ----------------------------------------------------------------------------

    def _local_block(
        self, amount: float, task_id: str | None, limits: BudgetLimits
    ) -> BudgetPause | None:
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

    def _allowance_block(self, limits: BudgetLimits) -> BudgetPause | None:
        """A child task needs something left of the issue budget."""
        if limits.issue_usd is None:
            return None
        left = round(limits.issue_usd - self._issue_spent - self._issue_reserved, 6)
        if left > 0:
            return None
        return BudgetPause(scope="issue", limit_usd=limits.issue_usd, spent_usd=self._issue_spent)

    async def _reserve_local(self, amount: float, task_id: str | None) -> None:
        def blocked(limits: BudgetLimits) -> BudgetPause | None:
            return self._local_block(amount, task_id, limits)

        assert self._limits is not None
        while (pause := blocked(self._limits)) is not None:
            await self._pause(pause, timeout=None, still_blocked=blocked)
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

    def _budget_available(self) -> None:
        """Signal from the ledger: its limit went up, a run it refused may ask again now."""
        self._wakes += 1

    async def _pause(
        self,
        pause: BudgetPause,
        timeout: timedelta | None,
        still_blocked: StillBlocked | None = None,
    ) -> None:
        """Wait for a raise of a run budget, or, for the global budget (``timeout`` set), for
        the next look at the ledger: at ``timeout``, or sooner when the ledger signals."""
        raises, wakes = self._raises, self._wakes
        # Announced once per pause: a re-look at the ledger only refreshes the numbers.
        before = self.status.paused
        announce = before is None or (before.scope, before.task_id) != (pause.scope, pause.task_id)
        self.status.paused, self._still_blocked = pause, still_blocked
        if announce:
            workflow.logger.warning("model budget used up: %s", pause.message())
            if self._on_pause is not None:
                await self._on_pause(pause)
        woken = (lambda: self._wakes != wakes) if timeout is not None else (lambda: False)
        try:
            await workflow.wait_condition(
                lambda: self._raises != raises or woken(), timeout=timeout
            )
        except TimeoutError:
            return  # look at the ledger again; the pause stays announced until it clears
        if self._raises == raises:
            return  # the ledger's limit went up: look again now
        self.status.paused, self._still_blocked = None, None
        if self._on_pause is not None:
            await self._on_pause(None)


def _raised(limits: BudgetLimits, request: BudgetRaise) -> BudgetLimits:
    update = {"task_usd": request.task_usd, "issue_usd": request.issue_usd}
    return limits.model_copy(update={k: v for k, v in update.items() if v is not None})


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
