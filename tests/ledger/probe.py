"""A tiny workflow that makes model calls only through the gateway, and fake model activities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity, workflow
from temporalio.exceptions import ActivityError, ApplicationError

# Imported normally, not passed through: the sandbox (workflows.runner) re-imports and checks
# the workflow-side helpers, as it does for the production workflows; ``domain`` passes through.
from domain import names
from domain.budget import (
    USAGE_DETAIL,
    BudgetPause,
    BudgetRaise,
    ModelGatewayStatus,
    ModelRunSettings,
)
from domain.issue import IssueInfo
from domain.model import DraftPlanInput, DraftPlanOutput
from domain.names import ERR_INVALID_MODEL_OUTPUT, ERR_PROVIDER_UNAVAILABLE
from domain.plan import Plan, PlanTask
from domain.usage import TokenUsage
from workflows.model_gateway import ModelGateway

ISSUE = IssueInfo(number=1, title="t", body="b", state="open", html_url="http://x", author="a")
PLAN = Plan(
    summary="s",
    tasks=[PlanTask(id="a", title="t", description="d", acceptance_criteria=["c"])],
)


class ProbeCall(BaseModel):
    stage: str
    task: PlanTask | None = None


class ProbeInput(BaseModel):
    settings: ModelRunSettings | None
    calls: list[ProbeCall]


class ProbeResult(BaseModel):
    providers: list[str]
    status: ModelGatewayStatus
    pauses: list[BudgetPause | None] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list, description="Error types of failed calls")


@workflow.defn(name="GatewayProbe")
class GatewayProbe:
    @workflow.init
    def __init__(self, input: ProbeInput) -> None:
        self._pauses: list[BudgetPause | None] = []
        self._gateway = ModelGateway(input.settings, on_pause=self._on_pause)

    @workflow.run
    async def run(self, input: ProbeInput) -> ProbeResult:
        providers, failures = [], []
        for call in input.calls:
            try:
                out = await self._gateway.call(
                    names.DRAFT_PLAN,
                    DraftPlanInput(issue=ISSUE),
                    DraftPlanOutput,
                    stage=call.stage,
                    task=call.task,
                )
            except ActivityError as err:  # a stage would fail here; the probe goes on
                failures.append(getattr(err.cause, "type", None) or type(err.cause).__name__)
                continue
            providers.append(out.provider)
        return ProbeResult(
            providers=providers, status=self._gateway.status, pauses=self._pauses, failures=failures
        )

    async def _on_pause(self, pause: BudgetPause | None) -> None:
        self._pauses.append(pause)  # IssueWorkflow posts a comment here

    @workflow.query(name="status")
    def status(self) -> ModelGatewayStatus:
        return self._gateway.status

    @workflow.update(name="raise_budget")
    def raise_budget(self, request: BudgetRaise) -> str:
        return self._gateway.raise_budget(request)

    @raise_budget.validator
    def _check_raise(self, request: BudgetRaise) -> None:
        self._gateway.check_raise(request)


@dataclass
class FakeModel:
    cost_usd: float = 0.4
    primary_down: bool = False
    # Paid for before the failure: the primary's replies before it went down; every answer's
    # re-asks when ``invalid`` (the answer stays invalid, as the real activity reports it).
    paid_before_failing: TokenUsage | None = None
    invalid: bool = False
    seen: list[tuple[str | None, str]] = field(default_factory=list)

    def _failure(self, message: str, type: str) -> ApplicationError:
        paid = self.paid_before_failing
        details = [{USAGE_DETAIL: paid.model_dump()}] if paid is not None else []
        return ApplicationError(message, *details, type=type, non_retryable=True)

    def activities(self) -> list[Callable[..., Any]]:
        model = self

        @activity.defn(name=names.DRAFT_PLAN)
        async def draft_plan(input: DraftPlanInput) -> DraftPlanOutput:
            model.seen.append((input.tier, input.provider_role))
            if model.primary_down and input.provider_role == "primary":
                raise model._failure("provider 'p' is unavailable", ERR_PROVIDER_UNAVAILABLE)
            if model.invalid:
                raise model._failure(
                    "plan: still invalid after 3 attempts", ERR_INVALID_MODEL_OUTPUT
                )
            usage = TokenUsage(input_tokens=100, output_tokens=10, calls=1, cost_usd=model.cost_usd)
            return DraftPlanOutput(
                plan=PLAN, usage=usage, model="m", provider=input.provider_role, tier=input.tier
            )

        return [draft_plan]
