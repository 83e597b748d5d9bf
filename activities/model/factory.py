"""Build the model activities from configuration: providers, tiers, breakers, cache, metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from activities.model.activities import ModelActivities
from activities.model.anthropic import AnthropicProvider
from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.budget import BudgetActivities
from activities.model.cache import AnswerCache
from activities.model.metrics import ModelMetrics, watch_breakers
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.routing import ModelRouter, Route
from config.settings import DEFAULT_PROVIDER, AutopilotConfig
from domain.tiers import TierModel

HttpProvider = OpenAICompatibleProvider | AnthropicProvider


def build_model_activities(config: AutopilotConfig) -> ModelActivities:
    """The model activities for ``config``; ``await activities.aclose()`` closes their clients."""
    settings = config.model

    def factory(name: str, model: str) -> HttpProvider:
        spec = settings.provider_config(name)
        key = config.model_api_key(name)
        if spec.kind == "anthropic":
            return AnthropicProvider(spec.base_url, model, key, spec.timeout_seconds)
        return OpenAICompatibleProvider(
            spec.base_url,
            model,
            key,
            spec.timeout_seconds,
            token_limit_field=spec.token_limit_field,
        )

    breakers = {
        name: CircuitBreaker(name, settings.breaker_failures, settings.breaker_cooldown_seconds)
        for name in settings.provider_names()
    }
    default = Route(
        DEFAULT_PROVIDER,
        settings.model,
        BreakerProvider(factory(DEFAULT_PROVIDER, settings.model), breakers[DEFAULT_PROVIDER]),
        TierModel(
            provider=DEFAULT_PROVIDER,
            model=settings.model,
            max_output_tokens=settings.max_output_tokens,
        ),
    )
    watch_breakers(breakers)
    router = ModelRouter.build(settings.routing(), factory, breakers, default)
    cache = AnswerCache(
        settings.cache_max_entries, settings.cache_max_bytes, enabled=settings.cache_enabled
    )
    return ModelActivities(
        max_reasks=settings.max_reasks, router=router, cache=cache, metrics=ModelMetrics()
    )


def budget_activities(client: Client, config: AutopilotConfig) -> list[Callable[..., Any]]:
    """``budget.reserve`` and ``budget.settle``, registered only when a global budget is set."""
    limit = config.budget.global_usd_per_hour
    if limit is None:
        return []
    budget = BudgetActivities(client, config.temporal.task_queue, limit)
    return [budget.reserve, budget.settle]


def model_activity_list(model: ModelActivities) -> list[Callable[..., Any]]:
    return [model.draft_plan, model.draft_edits, model.review_change, model.agent_turn]
