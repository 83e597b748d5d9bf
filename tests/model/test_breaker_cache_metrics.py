"""Circuit breaker transitions, the answer cache, and the token/cost metrics."""

from __future__ import annotations

import dataclasses

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.cache import AnswerCache, CachedAnswer, cache_key
from activities.model.metrics import ModelMetrics, model_stage
from activities.model.provider import ChatMessage, ProviderAnswer, StructuredRequest
from activities.model.routing import ModelRouter, Route
from domain.budget import failed_call_usage
from domain.issue import IssueInfo
from domain.model import DraftPlanInput
from domain.names import (
    ERR_INVALID_MODEL_OUTPUT,
    ERR_MODEL_REQUEST_REJECTED,
    ERR_MODEL_UNAVAILABLE,
    ERR_PROVIDER_UNAVAILABLE,
)
from domain.tiers import TierModel
from domain.usage import TokenUsage

PLAN = (
    '{"summary": "s", "tasks": [{"id": "a", "title": "t", "description": "d", '
    '"acceptance_criteria": ["c"]}]}'
)
REQUEST = StructuredRequest(
    messages=[ChatMessage(role="user", content="hi")], schema_name="plan", json_schema={}
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A provider answering from a list: an ApplicationError is raised, text is answered."""

    def __init__(self, *script: str | ApplicationError) -> None:
        self.script = list(script)
        self.calls = 0

    async def complete(self, request: StructuredRequest) -> ProviderAnswer:
        self.calls += 1
        step = self.script.pop(0) if self.script else PLAN
        if isinstance(step, ApplicationError):
            raise step
        return ProviderAnswer(
            content=step, usage=TokenUsage(input_tokens=1000, output_tokens=200, calls=1), model="m"
        )


def down() -> ApplicationError:
    return ApplicationError("HTTP 503", type=ERR_MODEL_UNAVAILABLE)


async def test_breaker_opens_fails_fast_half_opens_and_closes() -> None:
    clock = Clock()
    inner = Scripted(down(), down(), down())
    guarded = BreakerProvider(inner, CircuitBreaker("p", 2, 30, clock))
    for _ in range(2):
        with pytest.raises(ApplicationError):
            await guarded.complete(REQUEST)
    assert guarded.breaker.state == "open"

    with pytest.raises(ApplicationError) as fast:
        await guarded.complete(REQUEST)
    assert fast.value.type == ERR_PROVIDER_UNAVAILABLE and fast.value.non_retryable
    assert inner.calls == 2  # failed fast, the provider was not asked

    clock.now = 31
    assert guarded.breaker.state == "half_open"
    with pytest.raises(ApplicationError):  # the trial fails: open again for a cooldown
        await guarded.complete(REQUEST)
    assert guarded.breaker.state == "open"

    clock.now = 62
    await guarded.complete(REQUEST)  # the trial succeeds
    assert guarded.breaker.state == "closed"


async def test_rejected_requests_do_not_open_the_breaker() -> None:
    rejected = ApplicationError("HTTP 400", type=ERR_MODEL_REQUEST_REJECTED, non_retryable=True)
    guarded = BreakerProvider(Scripted(rejected, rejected, rejected), CircuitBreaker("p", 2))
    for _ in range(3):
        with pytest.raises(ApplicationError):
            await guarded.complete(REQUEST)
    assert guarded.breaker.state == "closed"


def test_cache_is_lru_bounded_by_count_and_bytes_and_can_be_off() -> None:
    cache = AnswerCache(max_entries=2, max_bytes=25)
    cache.put("a", CachedAnswer("x" * 10, "m"))
    cache.put("b", CachedAnswer("y" * 10, "m"))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", CachedAnswer("z" * 10, "m"))  # over both bounds: b goes
    assert cache.get("b") is None and len(cache) == 2 and cache.size_bytes == 20
    cache.put("huge", CachedAnswer("h" * 100, "m"))
    assert cache.get("huge") is None

    off = AnswerCache(enabled=False)
    off.put("a", CachedAnswer("x", "m"))
    assert off.get("a") is None


def test_cache_key_depends_on_provider_model_and_request() -> None:
    other = REQUEST.model_copy(update={"max_output_tokens": 5})
    keys = {
        cache_key("p", "m", REQUEST, "Plan"),
        cache_key("q", "m", REQUEST, "Plan"),
        cache_key("p", "n", REQUEST, "Plan"),
        cache_key("p", "m", other, "Plan"),
    }
    assert len(keys) == 4
    assert cache_key("p", "m", REQUEST, "Plan") == cache_key("p", "m", REQUEST.model_copy(), "Plan")


def metric_points(
    reader: InMemoryMetricReader,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    data = reader.get_metrics_data()
    points: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    labels = tuple(sorted((k, str(v)) for k, v in (point.attributes or {}).items()))
                    points[(metric.name, labels)] = point.value  # type: ignore[union-attr]
    return points


async def test_activity_prices_records_metrics_and_serves_a_rerun_from_the_cache() -> None:
    reader = InMemoryMetricReader()
    metrics = ModelMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    provider = Scripted(PLAN)
    price = TierModel(provider="p", model="m", input_usd_per_mtok=3, output_usd_per_mtok=15)
    router = ModelRouter(
        Route("default", "m", provider, price),
        {("balanced", "primary"): Route("p", "m", provider, price)},
    )
    activities = ModelActivities(router=router, cache=AnswerCache(), metrics=metrics)
    issue = IssueInfo(number=1, title="t", body="b", state="open", html_url="http://x", author="a")
    request = DraftPlanInput(issue=issue, tier="balanced")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="autopilot:forge.test:acme:shop:7")
    stage = model_stage.set("plan")  # what the worker's interceptor sets for draft_plan
    try:
        first = await env.run(activities.draft_plan, request)
        again = await env.run(activities.draft_plan, request)
    finally:
        model_stage.reset(stage)

    assert first.usage.cost_usd == pytest.approx(0.003 + 0.003) and not first.cached
    assert first.provider == "p" and first.tier == "balanced"
    assert again.cached and again.usage.cost_usd == 0 and again.usage.cached_calls == 1
    assert again.plan == first.plan and provider.calls == 1
    labels = (
        ("model", "m"),
        ("provider", "p"),
        ("repo", "acme/shop"),
        ("stage", "plan"),
        ("tier", "balanced"),
    )
    points = metric_points(reader)
    assert points[("autopilot_model_tokens", (("direction", "input"), *labels))] == 1000
    assert points[("autopilot_model_tokens", (("direction", "output"), *labels))] == 200
    assert points[("autopilot_model_cost_usd", labels)] == pytest.approx(0.006)


async def test_backup_route_without_a_backup_is_provider_unavailable() -> None:
    router = ModelRouter.single(Scripted())
    with pytest.raises(ApplicationError) as caught:
        router.route("fast", "backup")
    assert caught.value.type == ERR_PROVIDER_UNAVAILABLE


def priced_router(provider: Scripted) -> ModelRouter:
    price = TierModel(provider="p", model="m", input_usd_per_mtok=3, output_usd_per_mtok=15)
    route = Route("p", "m", provider, price)
    return ModelRouter(route, {("balanced", "primary"): route})


@pytest.mark.parametrize(
    ("script", "error_type", "paid"),
    [
        # The answer and both re-asks stay invalid: three paid requests, then InvalidModelOutput.
        (["garbage"] * 3, ERR_INVALID_MODEL_OUTPUT, 3),
        # The provider goes down during the re-ask: the first reply was still paid for.
        (["garbage", down()], ERR_MODEL_UNAVAILABLE, 1),
    ],
)
async def test_a_failed_call_counts_every_paid_reply_in_the_metrics_and_its_error(
    script: list[str | ApplicationError], error_type: str, paid: int
) -> None:
    reader = InMemoryMetricReader()
    metrics = ModelMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    provider = Scripted(*script)
    activities = ModelActivities(router=priced_router(provider), max_reasks=2, metrics=metrics)
    issue = IssueInfo(number=1, title="t", body="b", state="open", html_url="http://x", author="a")

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            activities.draft_plan, DraftPlanInput(issue=issue, tier="balanced")
        )

    error = caught.value
    assert error.type == error_type and provider.calls == len(script)
    assert error.non_retryable == (error_type == ERR_INVALID_MODEL_OUTPUT)  # retries as before
    usage = failed_call_usage(error)
    assert usage is not None  # what the workflow's gateway reads, priced
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (paid, 1000 * paid, 200 * paid)
    assert usage.cost_usd == pytest.approx(0.006 * paid)
    labels = (
        ("model", "m"),
        ("provider", "p"),
        ("repo", "-"),
        ("stage", "-"),
        ("tier", "balanced"),
    )
    points = metric_points(reader)
    assert points[("autopilot_model_tokens", (("direction", "input"), *labels))] == 1000 * paid
    assert points[("autopilot_model_cost_usd", labels)] == pytest.approx(0.006 * paid)
