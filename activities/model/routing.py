"""Which provider answers a call: a route per (tier, role), each behind its provider's breaker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from temporalio.exceptions import ApplicationError

from activities.model.breaker import BreakerProvider, CircuitBreaker
from activities.model.provider import ModelProvider
from domain.names import ERR_PROVIDER_UNAVAILABLE
from domain.tiers import ModelRouting, ProviderRole, Tier, TierModel

DEFAULT_ROUTE = "default"


@dataclass(frozen=True)
class Route:
    provider_name: str
    model: str
    provider: ModelProvider
    price: TierModel


# Builds the client for (provider name, model); the router wraps it in the provider's breaker.
ProviderFactory = Callable[[str, str], ModelProvider]


class ModelRouter:
    def __init__(self, default: Route, routes: dict[tuple[Tier, ProviderRole], Route]) -> None:
        self._default = default
        self._routes = routes

    @classmethod
    def single(
        cls, provider: ModelProvider, name: str = DEFAULT_ROUTE, model: str = ""
    ) -> ModelRouter:
        """Every call to one provider, unpriced: the router of a configuration without tiers."""
        return cls(Route(name, model, provider, TierModel(provider=name, model=model or "-")), {})

    @classmethod
    def build(
        cls,
        routing: ModelRouting,
        factory: ProviderFactory,
        breakers: dict[str, CircuitBreaker],
        default: Route,
    ) -> ModelRouter:
        """One client per (provider, model), shared by the tiers that use it."""
        clients: dict[tuple[str, str], ModelProvider] = {}

        def client(provider: str, model: str) -> ModelProvider:
            if (provider, model) not in clients:
                clients[(provider, model)] = BreakerProvider(
                    factory(provider, model), breakers[provider]
                )
            return clients[(provider, model)]

        routes: dict[tuple[Tier, ProviderRole], Route] = {}
        for tier, spec in routing.tiers.items():
            routes[(tier, "primary")] = Route(
                spec.provider, spec.model, client(spec.provider, spec.model), spec
            )
            if spec.backup_provider:
                model = spec.backup_model or spec.model
                routes[(tier, "backup")] = Route(
                    spec.backup_provider, model, client(spec.backup_provider, model), spec
                )
        return cls(default, routes)

    async def aclose(self) -> None:
        """Close every HTTP client behind the routes (each once)."""
        seen: set[int] = set()
        for route in [self._default, *self._routes.values()]:
            provider: object = route.provider
            provider = getattr(provider, "inner", provider)
            close = getattr(provider, "aclose", None)
            if close is not None and id(provider) not in seen:
                seen.add(id(provider))
                await close()

    def route(self, tier: Tier | None, role: ProviderRole = "primary") -> Route:
        if tier is None:
            return self._default
        found = self._routes.get((tier, role))
        if found is not None:
            return found
        if role == "backup":
            raise ApplicationError(
                f"tier {tier!r} has no backup provider configured",
                type=ERR_PROVIDER_UNAVAILABLE,
                non_retryable=True,
            )
        return self._default
