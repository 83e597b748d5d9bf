"""The model activities: draft a plan, draft edits, review a change, resolve a conflict, and
one turn of the implementer's conversation.

Each is sent to the provider of the input's tier and role (primary or backup), limited to
that tier's output tokens, priced at its prices, counted in the metrics, and answered from the
cache when the identical question was answered before. The structured ones are one question
with bounded re-asks; an agent turn is one call, whose stop reason the workflow reacts to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel
from temporalio import activity

from activities.model import prompts
from activities.model.agent_turn import (
    TURN_ANSWER_TYPE,
    CachedTurn,
    agent_request,
    converse,
    turn_of,
)
from activities.model.cache import AnswerCache, CachedAnswer, cache_key
from activities.model.conflicts import (
    CONFLICT_RESOLUTION_SCHEMA,
    check_resolution,
    conflict_messages,
)
from activities.model.metrics import ModelMetrics
from activities.model.provider import ModelProvider, StructuredRequest
from activities.model.routing import ModelRouter, Route
from activities.model.structured import AnswerCheck, ask_structured
from domain import names
from domain.agent import PURPOSE_STAGES, AgentTurnInput, AgentTurnOutput
from domain.change import EditSet
from domain.issue import repo_of_workflow_id
from domain.model import (
    DraftEditsInput,
    DraftEditsOutput,
    DraftPlanInput,
    DraftPlanOutput,
    ReviewChangeInput,
    ReviewChangeOutput,
)
from domain.plan import Plan
from domain.review import ReviewVerdict
from domain.task import (
    CONFLICT_SCHEMA_NAME,
    ConflictResolution,
    ResolveConflictInput,
    ResolveConflictOutput,
)
from domain.tiers import ProviderRole, Tier
from domain.usage import TokenUsage

# Schemas are derived once from the domain models, so prompts and validation never disagree.
PLAN_SCHEMA = Plan.model_json_schema()
EDIT_SET_SCHEMA = EditSet.model_json_schema()
REVIEW_VERDICT_SCHEMA = ReviewVerdict.model_json_schema()

A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class Answered(Generic[A]):
    answer: A
    usage: TokenUsage
    model: str
    provider: str
    cached: bool


class ModelActivities:
    """Holds the providers (through a router), the answer cache and the metrics."""

    def __init__(
        self,
        provider: ModelProvider | None = None,
        max_reasks: int = 2,
        *,
        router: ModelRouter | None = None,
        cache: AnswerCache | None = None,
        metrics: ModelMetrics | None = None,
    ) -> None:
        if router is None:
            if provider is None:
                raise ValueError("ModelActivities needs a provider or a router")
            router = ModelRouter.single(provider)
        self._router = router
        self._max_reasks = max_reasks
        self._cache = cache if cache is not None else AnswerCache(enabled=False)
        self._metrics = metrics or ModelMetrics()

    async def aclose(self) -> None:
        await self._router.aclose()

    @activity.defn(name=names.DRAFT_PLAN)
    async def draft_plan(self, input: DraftPlanInput) -> DraftPlanOutput:
        request = StructuredRequest(
            messages=prompts.plan_messages(input, PLAN_SCHEMA),
            schema_name="plan",
            json_schema=PLAN_SCHEMA,
        )
        got = await self._ask(input.tier, input.provider_role, request, Plan, "plan")
        return DraftPlanOutput(
            plan=got.answer,
            usage=got.usage,
            model=got.model,
            provider=got.provider,
            tier=input.tier,
            cached=got.cached,
        )

    @activity.defn(name=names.DRAFT_EDITS)
    async def draft_edits(self, input: DraftEditsInput) -> DraftEditsOutput:
        request = StructuredRequest(
            messages=prompts.edits_messages(input, EDIT_SET_SCHEMA),
            schema_name="edit_set",
            json_schema=EDIT_SET_SCHEMA,
        )
        stage = f"edits ({input.purpose}, task {input.task.id})"
        got = await self._ask(
            input.tier,
            input.provider_role,
            request,
            EditSet,
            stage,
            check_edit_set,
            run_stage=PURPOSE_STAGES[input.purpose],
        )
        return DraftEditsOutput(
            edits=got.answer,
            usage=got.usage,
            model=got.model,
            provider=got.provider,
            tier=input.tier,
            cached=got.cached,
        )

    @activity.defn(name=names.REVIEW_CHANGE)
    async def review_change(self, input: ReviewChangeInput) -> ReviewChangeOutput:
        request = StructuredRequest(
            messages=prompts.review_messages(input, REVIEW_VERDICT_SCHEMA),
            schema_name="review_verdict",
            json_schema=REVIEW_VERDICT_SCHEMA,
        )
        got = await self._ask(
            input.tier,
            input.provider_role,
            request,
            ReviewVerdict,
            "review",
            check_review_verdict,
        )
        return ReviewChangeOutput(
            verdict=got.answer,
            usage=got.usage,
            model=got.model,
            provider=got.provider,
            tier=input.tier,
            cached=got.cached,
        )

    @activity.defn(name=names.RESOLVE_CONFLICT)
    async def resolve_conflict(self, input: ResolveConflictInput) -> ResolveConflictOutput:
        request = StructuredRequest(
            messages=conflict_messages(input, CONFLICT_RESOLUTION_SCHEMA),
            schema_name=CONFLICT_SCHEMA_NAME,
            json_schema=CONFLICT_RESOLUTION_SCHEMA,
        )
        got = await self._ask(
            input.tier,
            input.provider_role,
            request,
            ConflictResolution,
            f"conflict (task {input.task.id})",
            check_resolution(input.conflicts),
        )
        return ResolveConflictOutput(
            resolution=got.answer,
            usage=got.usage,
            model=got.model,
            provider=got.provider,
            tier=input.tier,
            cached=got.cached,
        )

    @activity.defn(name=names.AGENT_TURN)
    async def agent_turn(self, input: AgentTurnInput) -> AgentTurnOutput:
        route = self._router.route(input.tier, input.provider_role)
        request = agent_request(input, route.price.output_limit(input.tier))
        turn_number = 1 + sum(m.role == "assistant" for m in input.messages)
        stage = f"agent turn {turn_number} ({input.brief.purpose})"
        run_stage = PURPOSE_STAGES[input.brief.purpose]
        key = cache_key(route.provider_name, route.model, request, TURN_ANSWER_TYPE)
        hit = self._cache.get(key)
        if hit is not None:
            _log(stage, "cache", hit.model, route.provider_name, run_stage)
            turn = CachedTurn.model_validate_json(hit.answer_json)
            usage, model = TokenUsage(calls=1, cached_calls=1), hit.model
        else:
            answer = await converse(route.provider, route.provider_name, request)
            turn = turn_of(answer, request.max_output_tokens)
            usage, model = self._record(input.tier, route, answer.model, answer.usage), answer.model
            self._cache.put(key, CachedAnswer(turn.model_dump_json(), model))
            _log(stage, f"1 call, {answer.stop_reason}", model, route.provider_name, run_stage)
        return AgentTurnOutput(
            message=turn.message,
            stop_reason=turn.stop_reason,
            usage=usage,
            model=model,
            provider=route.provider_name,
            tier=input.tier,
            cached=hit is not None,
        )

    async def _ask(
        self,
        tier: Tier | None,
        role: ProviderRole,
        request: StructuredRequest,
        answer_type: type[A],
        stage: str,
        check: AnswerCheck[A] | None = None,
        *,
        run_stage: str | None = None,
    ) -> Answered[A]:
        route = self._router.route(tier, role)
        request = request.model_copy(update={"max_output_tokens": route.price.output_limit(tier)})
        key = cache_key(route.provider_name, route.model, request, answer_type.__name__)
        hit = self._cache.get(key)
        if hit is not None:
            _log(stage, "cache", hit.model, route.provider_name, run_stage)
            return Answered(
                answer=answer_type.model_validate_json(hit.answer_json),
                usage=TokenUsage(calls=1, cached_calls=1),
                model=hit.model,
                provider=route.provider_name,
                cached=True,
            )
        # Each paid reply is priced and counted as it arrives: re-asks, and an answer that
        # stays invalid (its ApplicationError carries the priced usage to the workflow).
        result = await ask_structured(
            route.provider,
            request,
            answer_type,
            self._max_reasks,
            stage=stage,
            check=check,
            on_reply=lambda model, usage: self._record(tier, route, model, usage),
        )
        self._cache.put(key, CachedAnswer(result.answer.model_dump_json(), result.model))
        _log(stage, f"{result.attempts} attempt(s)", result.model, route.provider_name, run_stage)
        return Answered(
            result.answer, result.usage, result.model, route.provider_name, cached=False
        )

    def _record(self, tier: Tier | None, route: Route, model: str, usage: TokenUsage) -> TokenUsage:
        """Price ``usage`` at the route's tier and count it in the metrics; the priced usage."""
        priced = route.price.priced(usage)
        workflow_id = activity.info().workflow_id if activity.in_activity() else None
        repo = repo_of_workflow_id(workflow_id) if workflow_id else None
        self._metrics.record(
            tier or "default", route.provider_name, model, priced, repo=repo or "-"
        )
        return priced


def check_edit_set(edits: EditSet) -> list[str]:
    """What the schema cannot say: writes need content, and a path is edited once."""
    problems = [
        f"edits[{i}] ({e.path}): action 'write' needs the whole file in 'content'"
        for i, e in enumerate(edits.edits)
        if e.action == "write" and e.content is None
    ]
    paths = [e.path for e in edits.edits]
    problems.extend(
        f"{p} is edited more than once" for p in sorted({p for p in paths if paths.count(p) > 1})
    )
    return problems


def check_review_verdict(verdict: ReviewVerdict) -> list[str]:
    if verdict.verdict == "request_changes" and not verdict.requested_changes:
        return ["verdict 'request_changes' needs at least one entry in requested_changes"]
    return []


def _log(stage: str, how: str, model: str, provider: str, run_stage: str | None = None) -> None:
    """``run_stage``: the run's stage when the activity type alone does not say it (an edit
    or agent turn belongs to implement, verify or plan by its purpose)."""
    extra = {"stage": run_stage} if run_stage else {}
    activity.logger.info(
        "model answered %s in %s with %s via %s", stage, how, model, provider, extra=extra
    )
