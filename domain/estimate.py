"""What implementing and reviewing a plan should cost, before any of it is done.

Two bases, best first:

- **recorded**: the repository's own earlier runs, as tokens per plan task after approval
  (implement, verify and review together), priced at each task's tier;
- **sizes**: a model of the implementer's loop. Each task is a conversation whose every turn
  re-sends the brief (system prompt, tool definitions, issue, plan, repository map) and the
  history so far; the files it edits are viewed early (a view shows at most
  ``VIEW_CHARS``) and stay in the history; edits are ``str_replace`` calls, so an answer's size
  follows the change, not the file. Plus one review of the change.

Pure functions; the plan stage calls them and the PR shows the estimate beside the actual.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from domain.model import TOOL_SPECS
from domain.plan import Plan, PlanTask
from domain.tiers import CHARS_PER_TOKEN, ModelRouting, Tier, estimate_tokens
from domain.usage import TokenUsage

EstimateBasis = Literal["recorded", "sizes"]

# The agent's system prompt (activities.model.agent_prompts) is about this long.
SYSTEM_PROMPT_CHARS = 1_200
TOOLS_TOKENS = estimate_tokens(len(json.dumps([s.model_dump() for s in TOOL_SPECS.values()])))
# Turns of a task's loop: looking around, editing, running the tests and finishing, plus one
# per file (calibrated on the real-repository benchmark: 4 to 5 turns for 1 to 3 files).
TURNS_FIXED = 3
TURNS_PER_FILE = 1
VIEW_CHARS = 16_000  # the most one view shows (activities.workspace.tools.text.OUTPUT_CHARS)
NEW_FILE_TOKENS = 150  # a file the task creates: nothing to view, the content is output
# What each turn adds to the history (the call, a short tool answer), and what it answers.
TURN_HISTORY_TOKENS = 250
OUTPUT_TOKENS_PER_TURN = 120
# One review: its prompt (no repository map), the change per changed file, the verdict.
REVIEW_PROMPT_TOKENS = 400
REVIEW_DIFF_TOKENS_PER_FILE = 300
REVIEW_OUTPUT_TOKENS = 150


class RecordedUsage(BaseModel):
    """Earlier runs in the repository: what their approved plans cost after approval, as
    ``usage`` for ``tasks`` plan tasks (``domain.learning.recorded_usage``: the median of one)."""

    runs: int = Field(ge=1)
    tasks: int = Field(ge=1, description="Plan tasks of those runs, together")
    usage: TokenUsage = Field(description="Implement, verify and review of those runs")


class EstimateInput(BaseModel):
    """What the estimate knows of the repository besides the plan."""

    issue_chars: int = Field(default=0, description="The issue's title and body")
    map_chars: int = Field(default=0, description="The repository map in every task's brief")
    file_chars: dict[str, int] = Field(
        default_factory=dict, description="Sizes of the plan's files; absent: a new file"
    )
    recorded: RecordedUsage | None = None


class TaskEstimate(BaseModel):
    task_id: str
    tier: Tier
    reason: str = Field(default="", description="Why this tier")
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CostEstimate(BaseModel):
    tasks: list[TaskEstimate]
    review_tier: Tier
    review_tokens: int = 0
    review_cost_usd: float
    total_cost_usd: float
    basis: EstimateBasis = "sizes"
    recorded_runs: int = 0

    @property
    def total_tokens(self) -> int:
        return sum(t.input_tokens + t.output_tokens for t in self.tasks) + self.review_tokens

    def markdown(self) -> str:
        rows = [
            f"| {t.task_id} | {t.tier} | {t.input_tokens + t.output_tokens} | "
            f"${t.cost_usd:.4f} | {t.reason} |"
            for t in self.tasks
        ]
        review = (
            f"| review | {self.review_tier} | {self.review_tokens} | "
            f"${self.review_cost_usd:.4f} | |"
        )
        return "\n".join(
            [
                "| task | tier | tokens (est.) | cost (est.) | why this tier |",
                "|---|---|---:|---:|---|",
                *rows,
                *([review] if self.basis == "sizes" else []),
                f"| **total** | | {self.total_tokens} | **${self.total_cost_usd:.4f}** | |",
                "",
                self.basis_note(),
            ]
        )

    def basis_note(self) -> str:
        if self.basis == "recorded":
            return (
                f"_From this repository's recorded usage ({self.recorded_runs} earlier runs), "
                "per task, review and fixes included._"
            )
        return (
            "_From the sizes of the plan's files and the implementer's edit format "
            "(a conversation of tool calls per task), plus one review; fixes not included._"
        )


def estimate_plan_cost(
    plan: Plan, routing: ModelRouting, basis: EstimateInput | None = None
) -> CostEstimate:
    """From recorded usage when the repository has some; from sizes otherwise."""
    basis = basis or EstimateInput()
    review_tier = routing.tier_for("review")
    tasks: list[TaskEstimate] = []
    for task in plan.in_dependency_order():
        tier, reason = routing.explain_tier("edits", task)
        if basis.recorded is not None:
            used = basis.recorded.usage
            input_tokens = used.input_tokens // basis.recorded.tasks
            output_tokens = used.output_tokens // basis.recorded.tasks
        else:
            input_tokens, output_tokens = loop_tokens(plan, task, basis)
        cost = routing.model_for(tier).cost_usd(input_tokens, output_tokens)
        tasks.append(
            TaskEstimate(
                task_id=task.id,
                tier=tier,
                reason=reason,
                **_tokens(input_tokens, output_tokens),
                cost_usd=cost,
            )
        )
    review_tokens, review_cost = 0, 0.0
    if basis.recorded is None:
        files = sum(max(1, len(t.files)) for t in plan.tasks)
        review_in = (
            REVIEW_PROMPT_TOKENS
            + estimate_tokens(basis.issue_chars + len(plan.summary))
            + files * REVIEW_DIFF_TOKENS_PER_FILE
        )
        review_tokens = review_in + REVIEW_OUTPUT_TOKENS
        review_cost = routing.model_for(review_tier).cost_usd(review_in, REVIEW_OUTPUT_TOKENS)
    return CostEstimate(
        tasks=tasks,
        review_tier=review_tier,
        review_tokens=review_tokens,
        review_cost_usd=review_cost,
        total_cost_usd=round(sum(t.cost_usd for t in tasks) + review_cost, 6),
        basis="recorded" if basis.recorded is not None else "sizes",
        recorded_runs=basis.recorded.runs if basis.recorded is not None else 0,
    )


def _tokens(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


def loop_tokens(plan: Plan, task: PlanTask, basis: EstimateInput) -> tuple[int, int]:
    """(input, output) tokens of one task's loop: every turn re-sends the brief and history."""
    files = max(1, len(task.files))
    turns = TURNS_FIXED + TURNS_PER_FILE * files
    brief_chars = basis.issue_chars + basis.map_chars + len(plan.summary) + len(task.description)
    brief_chars += sum(len(t.title) + len(t.description) for t in plan.tasks)
    per_turn = estimate_tokens(SYSTEM_PROMPT_CHARS + brief_chars) + TOOLS_TOKENS
    viewed = sum(_view_tokens(basis.file_chars.get(path)) for path in task.files)
    # Files are viewed in the first turns and stay in the history after; each turn adds its
    # call and answer to everything after it.
    history = viewed * (turns - files) + TURN_HISTORY_TOKENS * turns * (turns - 1) // 2
    return turns * per_turn + history, turns * OUTPUT_TOKENS_PER_TURN


def _view_tokens(chars: int | None) -> int:
    if chars is None:
        return NEW_FILE_TOKENS
    return min(chars, VIEW_CHARS) // CHARS_PER_TOKEN + 1


def actual_after_approval(total: TokenUsage, plan_stage: TokenUsage | None) -> TokenUsage:
    """What the run used after its plan was approved: everything but the plan stage."""
    plan_stage = plan_stage or TokenUsage()
    return TokenUsage(
        input_tokens=max(0, total.input_tokens - plan_stage.input_tokens),
        output_tokens=max(0, total.output_tokens - plan_stage.output_tokens),
        calls=max(0, total.calls - plan_stage.calls),
        cost_usd=round(max(0.0, total.cost_usd - plan_stage.cost_usd), 6),
    )


def comparison_markdown(estimate: CostEstimate, actual: TokenUsage) -> str:
    """The estimate beside what implementing, verifying and reviewing actually used."""
    actual_tokens = actual.input_tokens + actual.output_tokens
    lines = [
        "| | tokens | cost |",
        "|---|---:|---:|",
        f"| estimated before implementation | {estimate.total_tokens} | "
        f"${estimate.total_cost_usd:.4f} |",
        f"| actual after approval | {actual_tokens} | ${actual.cost_usd:.4f} |",
    ]
    if estimate.total_tokens:
        ratio = actual_tokens / estimate.total_tokens
        lines += ["", f"Actual ÷ estimate: **{ratio:.2f}** (tokens)."]
    return "\n".join([*lines, "", estimate.basis_note()])
