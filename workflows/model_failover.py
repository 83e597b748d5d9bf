"""One gateway call on its tier's primary provider, moved to the backup when the primary is
down, and the bill of what it cost (``ModelGateway.call`` settles the budgets with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

from domain import names
from domain.budget import Failover, ModelGatewayStatus, failed_call_usage
from domain.tiers import ModelRouting, Tier
from domain.usage import TokenUsage
from workflows import metrics, options

# Causes that move a call to the backup provider: the primary is down, not the request bad.
FAILOVER_ERRORS = frozenset({names.ERR_PROVIDER_UNAVAILABLE, names.ERR_MODEL_UNAVAILABLE})

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


@dataclass
class Bill:
    """What one gateway call has cost so far, counted in the status as soon as it is known:
    answers, and failed attempts that were paid for (their errors carry the usage)."""

    status: ModelGatewayStatus
    stage: str
    task_id: str | None
    tier: Tier
    reason: str = ""  # why this tier: shown with the call's row in the cost table
    cost: float = 0.0

    def add(self, usage: TokenUsage) -> None:
        self.status.add(self.stage, self.task_id, self.tier, usage, self.reason)
        self.cost = round(self.cost + usage.cost_usd, 6)

    def failed(self, error: ActivityError, estimate: float) -> None:
        """Count a failed call: what its details say it paid for; nothing for a provider that
        was unreachable; its estimate when unknown (an older worker, a timeout)."""
        paid = failed_call_usage(error.cause)
        if paid is not None:
            self.add(paid)
        elif not provider_down(error.cause):
            self.cost = round(self.cost + estimate, 6)


def provider_down(cause: BaseException | None) -> bool:
    return isinstance(cause, ApplicationError) and cause.type in FAILOVER_ERRORS


async def with_failover(
    routing: ModelRouting, activity: str, input: In, output_type: type[Out], bill: Bill
) -> Out:
    """The activity on the tier's primary; on the backup when the primary is down (its paid
    attempts, if any, billed first)."""
    spec = routing.model_for(bill.tier)
    primary = input.model_copy(update={"tier": bill.tier, "provider_role": "primary"})
    try:
        output: Out = await options.MODEL_PRIMARY.execute(activity, primary, output_type)
        return output
    except ActivityError as failed:
        cause = failed.cause
        if not ((isinstance(cause, ActivityTimeout) or provider_down(cause)) and spec.has_backup):
            raise
        paid = failed_call_usage(cause)  # replies before the provider went down
        if paid is not None:
            bill.add(paid)
        why = str(cause.message if isinstance(cause, ApplicationError) else cause)
        failover = Failover(
            stage=bill.stage,
            task_id=bill.task_id,
            tier=bill.tier,
            from_provider=spec.provider,
            to_provider=spec.backup_provider or "",
            cause=why[:300],
            at=workflow.now(),
        )
        bill.status.failovers.append(failover)
        metrics.count_failover(bill.tier, failover.from_provider, failover.to_provider)
        workflow.logger.warning(
            "model call of %s moved from %s to %s: %s",
            bill.stage,
            failover.from_provider,
            failover.to_provider,
            failover.cause,
        )
    backup = input.model_copy(update={"tier": bill.tier, "provider_role": "backup"})
    output = await options.MODEL_BACKUP.execute(activity, backup, output_type)
    return output
