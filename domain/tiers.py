"""Model tiers: which provider and model answer a call, what it costs, and how it is chosen.

Pure models and functions, shared by config, activities and the workflow-side gateway.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from domain.plan import PlanTask
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

# What one call's prompt adds to its input (system prompt, schema), for budget reservations.
PROMPT_OVERHEAD_TOKENS = 1_500


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

    def explain_tier(self, stage: str, task: PlanTask | None = None) -> tuple[Tier, str]:
        """The tier and why it was chosen, for the cost table."""
        return explain_tier(stage, task, self.stage_tiers, self.overrides)

    def model_for(self, tier: Tier) -> TierModel:
        return self.tiers[tier]

    def output_limit(self, tier: Tier) -> int:
        return self.tiers[tier].output_limit(tier)


def assess_complexity(task: PlanTask) -> Tier:
    """The tier a task needs, from its description, files, dependencies and hints."""
    return complexity(task)[0]


def complexity(task: PlanTask) -> tuple[Tier, list[str]]:
    """The tier a task needs and the signals that raised it (empty: none, a small task)."""
    if task.requires_deep_analysis:
        return "advanced", ["the plan asks for deep analysis"]
    points, signals = 0, []
    text = f"{task.title}\n{task.description}\n" + "\n".join(task.acceptance_criteria)
    if len(task.description) >= LONG_DESCRIPTION_CHARS:
        points += 2 if len(task.description) >= VERY_LONG_DESCRIPTION_CHARS else 1
        signals.append(f"size: {len(task.description)}-character description")
    words = {m.group(0).lower(): m.group(0).lower()[:6] for m in _HARD_WORDS.finditer(text)}
    if words:
        points += 2 * min(2, len(set(words.values())))
        signals.append("keywords: " + ", ".join(sorted(words)))
    if len(task.files) >= MANY_FILES:
        points += 2 if len(task.files) >= VERY_MANY_FILES else 1
        signals.append(f"size: {len(task.files)} files")
    if len(task.depends_on) >= MANY_DEPENDENCIES:
        points += 1
        signals.append(f"dependencies: {len(task.depends_on)}")
    if points >= ADVANCED_FROM_POINTS:
        return "advanced", signals
    return ("balanced" if points >= BALANCED_FROM_POINTS else "fast"), signals


def choose_tier(
    stage: str,
    task: PlanTask | None,
    stage_tiers: dict[str, Tier],
    overrides: dict[str, Tier] | None = None,
) -> Tier:
    """Repository override for the stage, then the stage default, then the task's complexity."""
    return explain_tier(stage, task, stage_tiers, overrides)[0]


def explain_tier(
    stage: str,
    task: PlanTask | None,
    stage_tiers: dict[str, Tier],
    overrides: dict[str, Tier] | None = None,
) -> tuple[Tier, str]:
    """``choose_tier`` with the reason, in words a cost table can show."""
    overrides = overrides or {}
    if stage in overrides:
        return overrides[stage], f"repository override ({stage})"
    if stage in stage_tiers:
        return stage_tiers[stage], f"stage default ({stage})"
    if "task" in overrides:
        return overrides["task"], "repository override (task)"
    if task is None:
        return "balanced", "default (no task to assess)"
    tier, signals = complexity(task)
    return tier, "; ".join(signals) if signals else "size: small task"


def estimate_tokens(chars: int) -> int:
    return chars // CHARS_PER_TOKEN + 1


def estimate_call_usd(spec: TierModel, input_chars: int, max_output_tokens: int) -> float:
    """An upper-bound guess of one call's cost, reserved from budgets before it is made."""
    input_tokens = PROMPT_OVERHEAD_TOKENS + estimate_tokens(input_chars)
    return spec.cost_usd(input_tokens, max_output_tokens)


def single_model_routing(
    provider: str, model: str, max_output_tokens: int | None = None
) -> ModelRouting:
    """Every tier on one unpriced model: the routing of a configuration without tiers."""
    spec = TierModel(provider=provider, model=model, max_output_tokens=max_output_tokens)
    return ModelRouting(tiers={tier: spec for tier in TIERS})
