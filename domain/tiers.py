"""Model tiers: which provider and model answer a call, what it costs, and how it is chosen.

Pure models and functions, shared by config, activities and the workflow-side gateway.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from domain.plan import Plan, PlanTask
from domain.usage import TokenUsage

Tier = Literal["fast", "balanced", "advanced"]
TIERS: tuple[Tier, ...] = ("fast", "balanced", "advanced")
ProviderRole = Literal["primary", "backup"]
# The stages that call a model; "edits" and "fix" are chosen per task unless overridden.
ModelStage = Literal["plan", "edits", "fix", "review"]

# How an OpenAI-compatible request names its output limit (newer OpenAI models reject the first).
TokenLimitField = Literal["max_tokens", "max_completion_tokens"]

TOKENS_PER_MILLION = 1_000_000
CHARS_PER_TOKEN = 4  # a rough, deliberately generous conversion for estimates

# Complexity assessment: points per signal; the total picks the tier.
_HARD_WORDS = re.compile(
    r"\b(security|secur\w*|auth\w*|crypt\w*|concurren\w*|thread\w*|race|deadlock|lock\w*|"
    r"architect\w*|migrat\w*|distributed|performance|parallel\w*|async\w*|transaction\w*)\b",
    re.IGNORECASE,
)
LONG_DESCRIPTION_CHARS = 600
VERY_LONG_DESCRIPTION_CHARS = 1500
MANY_FILES = 3
VERY_MANY_FILES = 6
MANY_DEPENDENCIES = 2
BALANCED_FROM_POINTS = 2
ADVANCED_FROM_POINTS = 4

# Estimate of one call, before its prompt exists (prompt overhead, per file, per answer).
PROMPT_OVERHEAD_TOKENS = 1_500
TOKENS_PER_FILE = 1_200
OUTPUT_TOKENS_PER_FILE = 800
PLAN_OUTPUT_TOKENS = 1_500
REVIEW_OUTPUT_TOKENS = 600


# Planning needs judgement, a review against a rubric less; edits are assessed per task.
DEFAULT_STAGE_TIERS: dict[str, Tier] = {"plan": "balanced", "review": "fast"}

# The most one answer may hold (the request's max_tokens), unless a tier sets its own.
DEFAULT_MAX_OUTPUT_TOKENS = 4096
DEFAULT_TIER_OUTPUT_TOKENS: dict[Tier, int] = {"fast": 4096, "balanced": 8192, "advanced": 8192}


class TierModel(BaseModel):
    """One tier: who answers, what a million tokens cost, and who stands in when it is down."""

    provider: str = Field(min_length=1, description="A provider name from model.providers")
    model: str = Field(min_length=1)
    input_usd_per_mtok: float = Field(default=0.0, ge=0)
    output_usd_per_mtok: float = Field(default=0.0, ge=0)
    backup_provider: str | None = None
    backup_model: str | None = None
    max_output_tokens: int | None = Field(
        default=None, gt=0, description="Longest answer (max_tokens); None: the tier's default"
    )

    def output_limit(self, tier: Tier | None) -> int:
        """The answer limit of a call at ``tier`` (None: the untiered default model)."""
        if self.max_output_tokens is not None:
            return self.max_output_tokens
        return DEFAULT_TIER_OUTPUT_TOKENS[tier] if tier else DEFAULT_MAX_OUTPUT_TOKENS

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return round(
            (input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok)
            / TOKENS_PER_MILLION,
            6,
        )

    def priced(self, usage: TokenUsage) -> TokenUsage:
        return usage.model_copy(
            update={"cost_usd": self.cost_usd(usage.input_tokens, usage.output_tokens)}
        )

    @property
    def has_backup(self) -> bool:
        return self.backup_provider is not None


class ModelRouting(BaseModel):
    """Tier table plus the stage defaults and per-repository overrides a run uses."""

    tiers: dict[Tier, TierModel]
    stage_tiers: dict[str, Tier] = Field(
        default_factory=lambda: dict(DEFAULT_STAGE_TIERS),
        description="Fixed tier per stage; stages not listed are assessed per task",
    )
    overrides: dict[str, Tier] = Field(
        default_factory=dict, description="Per repository: stage (or 'task') -> tier"
    )

    def tier_for(self, stage: str, task: PlanTask | None = None) -> Tier:
        return choose_tier(stage, task, self.stage_tiers, self.overrides)

    def model_for(self, tier: Tier) -> TierModel:
        return self.tiers[tier]

    def output_limit(self, tier: Tier) -> int:
        return self.tiers[tier].output_limit(tier)


def assess_complexity(task: PlanTask) -> Tier:
    """The tier a task needs, from its description, files, dependencies and hints."""
    if task.requires_deep_analysis:
        return "advanced"
    points = 0
    text = f"{task.title}\n{task.description}\n" + "\n".join(task.acceptance_criteria)
    if len(task.description) >= VERY_LONG_DESCRIPTION_CHARS:
        points += 2
    elif len(task.description) >= LONG_DESCRIPTION_CHARS:
        points += 1
    points += 2 * min(2, len({m.group(0).lower()[:6] for m in _HARD_WORDS.finditer(text)}))
    if len(task.files) >= VERY_MANY_FILES:
        points += 2
    elif len(task.files) >= MANY_FILES:
        points += 1
    if len(task.depends_on) >= MANY_DEPENDENCIES:
        points += 1
    if points >= ADVANCED_FROM_POINTS:
        return "advanced"
    return "balanced" if points >= BALANCED_FROM_POINTS else "fast"


def choose_tier(
    stage: str,
    task: PlanTask | None,
    stage_tiers: dict[str, Tier],
    overrides: dict[str, Tier] | None = None,
) -> Tier:
    """Repository override for the stage, then the stage default, then the task's complexity."""
    overrides = overrides or {}
    if stage in overrides:
        return overrides[stage]
    if stage in stage_tiers:
        return stage_tiers[stage]
    if "task" in overrides:
        return overrides["task"]
    return assess_complexity(task) if task is not None else "balanced"


def estimate_tokens(chars: int) -> int:
    return chars // CHARS_PER_TOKEN + 1


def estimate_call_usd(spec: TierModel, input_chars: int, max_output_tokens: int) -> float:
    """An upper-bound guess of one call's cost, reserved from budgets before it is made."""
    input_tokens = PROMPT_OVERHEAD_TOKENS + estimate_tokens(input_chars)
    return spec.cost_usd(input_tokens, max_output_tokens)


class TaskEstimate(BaseModel):
    task_id: str
    tier: Tier
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CostEstimate(BaseModel):
    """What implementing and reviewing a plan should cost, before any of it is done."""

    tasks: list[TaskEstimate]
    review_tier: Tier
    review_cost_usd: float
    total_cost_usd: float

    def markdown(self) -> str:
        rows = [
            f"| {t.task_id} | {t.tier} | {t.input_tokens + t.output_tokens} | ${t.cost_usd:.4f} |"
            for t in self.tasks
        ]
        return "\n".join(
            [
                "| task | tier | tokens (est.) | cost (est.) |",
                "|---|---|---:|---:|",
                *rows,
                f"| review | {self.review_tier} | | ${self.review_cost_usd:.4f} |",
                f"| **total** | | | **${self.total_cost_usd:.4f}** |",
            ]
        )


def estimate_plan_cost(plan: Plan, routing: ModelRouting) -> CostEstimate:
    """A pure estimate: one edits call per task at its tier, plus one review of the change."""
    tasks: list[TaskEstimate] = []
    for task in plan.in_dependency_order():
        tier = routing.tier_for("edits", task)
        files = max(1, len(task.files))
        input_tokens = (
            PROMPT_OVERHEAD_TOKENS
            + estimate_tokens(len(task.description) + len(plan.summary))
            + files * TOKENS_PER_FILE
        )
        output_tokens = files * OUTPUT_TOKENS_PER_FILE
        cost = routing.model_for(tier).cost_usd(input_tokens, output_tokens)
        tasks.append(
            TaskEstimate(
                task_id=task.id,
                tier=tier,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost,
            )
        )
    review_tier = routing.tier_for("review")
    changed_files = sum(max(1, len(t.files)) for t in plan.tasks)
    review_cost = routing.model_for(review_tier).cost_usd(
        PROMPT_OVERHEAD_TOKENS + changed_files * TOKENS_PER_FILE, REVIEW_OUTPUT_TOKENS
    )
    total = round(sum(t.cost_usd for t in tasks) + review_cost, 6)
    return CostEstimate(
        tasks=tasks, review_tier=review_tier, review_cost_usd=review_cost, total_cost_usd=total
    )


def single_model_routing(
    provider: str, model: str, max_output_tokens: int | None = None
) -> ModelRouting:
    """Every tier on one unpriced model: the routing of a configuration without tiers."""
    spec = TierModel(provider=provider, model=model, max_output_tokens=max_output_tokens)
    return ModelRouting(tiers={tier: spec for tier in TIERS})
