"""Tier selection, prices and the pre-implementation cost estimate (pure functions)."""

from __future__ import annotations

import pytest

from config.settings import AutopilotConfig, RepositoryConfig
from domain.estimate import estimate_plan_cost
from domain.plan import Plan, PlanTask
from domain.tiers import (
    TIERS,
    ModelRouting,
    Tier,
    TierModel,
    assess_complexity,
)
from domain.usage import TokenUsage


def task(**overrides: object) -> PlanTask:
    fields: dict[str, object] = {
        "id": "t",
        "title": "Fix the total",
        "description": "Apply the discount once.",
        "files": ["shop/pricing.py"],
        "acceptance_criteria": ["total right"],
    }
    fields.update(overrides)
    return PlanTask.model_validate(fields)


ROUTING = ModelRouting(
    tiers={
        "fast": TierModel(provider="p", model="small", input_usd_per_mtok=1, output_usd_per_mtok=5),
        "balanced": TierModel(
            provider="p", model="mid", input_usd_per_mtok=3, output_usd_per_mtok=15
        ),
        "advanced": TierModel(
            provider="p", model="big", input_usd_per_mtok=15, output_usd_per_mtok=75
        ),
    }
)


@pytest.mark.parametrize(
    ("overrides", "tier"),
    [
        ({}, "fast"),
        ({"requires_deep_analysis": True}, "advanced"),
        ({"description": "Fix the race condition in the worker"}, "balanced"),
        ({"description": "Rework the auth architecture for concurrency"}, "advanced"),
        ({"description": "x" * 1600}, "balanced"),
        ({"files": [f"f{i}.py" for i in range(6)]}, "balanced"),
        (
            {
                "files": [f"f{i}.py" for i in range(3)],
                "depends_on": ["a", "b"],
                "description": "y" * 700,
            },
            "balanced",  # three small signals add up to balanced
        ),
    ],
)
def test_complexity_picks_the_tier(overrides: dict[str, object], tier: str) -> None:
    assert assess_complexity(task(**overrides)) == tier


def test_stage_defaults_task_assessment_and_repository_overrides() -> None:
    assert ROUTING.tier_for("plan") == "balanced"
    assert ROUTING.tier_for("review") == "fast"
    assert ROUTING.tier_for("edits", task(requires_deep_analysis=True)) == "advanced"
    repo = ROUTING.model_copy(update={"overrides": {"review": "advanced", "task": "balanced"}})
    assert repo.tier_for("review") == "advanced"
    assert repo.tier_for("edits", task(requires_deep_analysis=True)) == "balanced"


def test_cost_uses_the_tier_prices_per_million_tokens() -> None:
    spec = ROUTING.model_for("balanced")
    assert spec.cost_usd(1_000_000, 0) == 3.0
    priced = spec.priced(TokenUsage(input_tokens=2000, output_tokens=1000, calls=1))
    assert priced.cost_usd == pytest.approx(0.006 + 0.015)


def test_plan_estimate_prices_each_task_at_its_tier_plus_a_review() -> None:
    plan = Plan(
        summary="s",
        tasks=[task(id="easy"), task(id="hard", requires_deep_analysis=True, depends_on=["easy"])],
    )
    estimate = estimate_plan_cost(plan, ROUTING)

    assert [(t.task_id, t.tier) for t in estimate.tasks] == [("easy", "fast"), ("hard", "advanced")]
    assert estimate.tasks[1].cost_usd > 10 * estimate.tasks[0].cost_usd
    assert estimate.total_cost_usd == pytest.approx(
        sum(t.cost_usd for t in estimate.tasks) + estimate.review_cost_usd
    )
    assert "| hard | advanced |" in estimate.markdown()
    assert "| the plan asks for deep analysis |" in estimate.markdown()  # why this tier


def test_config_without_tiers_routes_everything_to_the_default_model() -> None:
    routing = AutopilotConfig().model.routing()
    assert {t.provider for t in routing.tiers.values()} == {"default"}
    assert routing.model_for("advanced").cost_usd(10**6, 10**6) == 0


def test_config_tiers_and_repository_overrides_reach_the_run_settings() -> None:
    config = AutopilotConfig.model_validate(
        {
            "model": {
                "providers": {
                    "claude": {"kind": "anthropic", "base_url": "https://api.anthropic.com"},
                },
                "tiers": {
                    "fast": {"provider": "default", "model": "m", "backup_provider": "claude"},
                    "balanced": {"provider": "claude", "model": "s", "input_usd_per_mtok": 3},
                    "advanced": {"provider": "claude", "model": "o", "output_usd_per_mtok": 75},
                },
            },
            "budget": {"issue_usd": 2.5, "global_usd_per_hour": 10},
        }
    )
    repo = RepositoryConfig(name="r", repo="o/r", model_tiers={"review": "advanced"})
    settings = config.model_run_settings(repo)

    assert settings.routing.tier_for("review") == "advanced"
    assert settings.routing.model_for("fast").backup_provider == "claude"
    assert settings.budget.issue_usd == 2.5 and settings.budget.global_usd_per_hour == 10


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ({"tiers": {"fast": {"provider": "nope", "model": "m"}}}, "unknown provider 'nope'"),
        ({"tiers": {"fast": {"provider": "default", "model": "m"}}}, "missing balanced, advanced"),
    ],
)
def test_tier_mistakes_are_refused(model: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        AutopilotConfig.model_validate({"model": model})


def test_the_repository_is_read_back_from_issue_and_task_workflow_ids() -> None:
    from domain.issue import repo_of_workflow_id

    assert repo_of_workflow_id("autopilot:gitea.example.com:acme:shop:7") == "acme/shop"
    assert repo_of_workflow_id("autopilot:127.0.0.1:3000:acme:shop:7/task/fix-x") == "acme/shop"
    assert repo_of_workflow_id("autopilot:budget-ledger") is None
    assert repo_of_workflow_id("something-else") is None


@pytest.mark.parametrize(
    ("tier", "limit"), [("fast", 4096), ("balanced", 8192), ("advanced", 8192), (None, 4096)]
)
def test_output_limits_default_per_tier_unless_set(tier: Tier | None, limit: int) -> None:
    assert TierModel(provider="p", model="m").output_limit(tier) == limit
    assert TierModel(provider="p", model="m", max_output_tokens=100).output_limit(tier) == 100


def test_output_limits_and_the_token_field_come_from_the_config() -> None:
    config = AutopilotConfig.model_validate(
        {
            "model": {
                "max_output_tokens": 2000,
                "token_limit_field": "max_completion_tokens",
                "providers": {"o": {"base_url": "https://api.openai.com/v1"}},
            }
        }
    )
    assert config.model.routing().output_limit("advanced") == 2000  # untiered: one model
    assert config.model.provider_config("default").token_limit_field == "max_completion_tokens"
    assert config.model.provider_config("o").token_limit_field == "max_tokens"

    tiered = AutopilotConfig.model_validate(
        {
            "model": {
                "tiers": {
                    "fast": {"provider": "default", "model": "a", "max_output_tokens": 1024},
                    "balanced": {"provider": "default", "model": "b"},
                    "advanced": {"provider": "default", "model": "c", "max_output_tokens": 32000},
                }
            }
        }
    ).model.routing()
    assert [tiered.output_limit(t) for t in TIERS] == [1024, 8192, 32000]


@pytest.mark.parametrize(
    "model",
    [{"max_output_tokens": 0}, {"token_limit_field": "max_output"}],
    ids=["zero", "unknown-field"],
)
def test_output_limit_mistakes_are_refused(model: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AutopilotConfig.model_validate({"model": model})


@pytest.mark.parametrize(
    ("stage", "changes", "overrides", "tier", "reason"),
    [
        ("plan", {}, {}, "balanced", "stage default (plan)"),
        ("plan", {}, {"plan": "advanced"}, "advanced", "repository override (plan)"),
        ("edits", {}, {"task": "fast"}, "fast", "repository override (task)"),
        ("edits", {}, {}, "fast", "size: small task"),
        ("edits", {"files": [f"f{i}.py" for i in range(6)]}, {}, "balanced", "size: 6 files"),
        ("edits", {"depends_on": ["a", "b"]}, {}, "fast", "dependencies: 2"),
        (
            "edits",
            {"description": "Fix the race in the lock"},
            {},
            "advanced",
            "keywords: lock, race",
        ),
        (
            "edits",
            {"requires_deep_analysis": True},
            {},
            "advanced",
            "the plan asks for deep analysis",
        ),
    ],
)
def test_the_tier_comes_with_its_reason(
    stage: str, changes: dict[str, object], overrides: dict[str, Tier], tier: Tier, reason: str
) -> None:
    routing = ROUTING.model_copy(update={"overrides": overrides})
    chosen = routing.explain_tier(stage, task(**changes))
    assert chosen == (tier, reason)
    assert routing.tier_for(stage, task(**changes)) == tier
