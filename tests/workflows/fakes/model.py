"""The model side of the fake world: plans, edits, reviews and conflict resolutions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.agent import AgentBrief, AgentMessage, AgentTurnInput, AgentTurnOutput, ToolCall
from domain.change import EditSet, FileEdit
from domain.model import (
    DraftEditsInput,
    DraftEditsOutput,
    DraftPlanInput,
    DraftPlanOutput,
    ReviewChangeInput,
    ReviewChangeOutput,
)
from domain.plan import Plan, PlanTask
from domain.review import ReviewVerdict, RubricScore
from domain.task import (
    ConflictResolution,
    ResolveConflictInput,
    ResolveConflictOutput,
    ResolvedFile,
)
from domain.usage import TokenUsage

USAGE = TokenUsage(input_tokens=100, output_tokens=20, calls=1)
# What every fake model call costs when a run is tiered: 0.4 USD, so budgets bite quickly.
COSTED_USAGE = USAGE.model_copy(update={"cost_usd": 0.4})


def two_task_plan() -> Plan:
    return Plan(
        summary="Fix the discount and pin it with a test",
        tasks=[
            PlanTask(
                id="fix-discount",
                title="Fix the discount",
                description="Apply the discount once",
                files=["shop/pricing.py"],
                acceptance_criteria=["discount applied once"],
            ),
            PlanTask(
                id="add-test",
                title="Add a regression test",
                description="Test the discount",
                files=["tests/test_pricing.py"],
                depends_on=["fix-discount"],
                acceptance_criteria=["test fails before the fix"],
            ),
        ],
    )


@dataclass
class FakeModel:
    """Scripted model answers, each costing ``usage``; records every request."""

    usage: TokenUsage = field(default_factory=lambda: USAGE)
    review_verdicts: list[str] = field(default_factory=lambda: ["approve"])
    # Reviewers whose focus is listed answer this verdict every time (others: review_verdicts).
    review_by_focus: dict[str, str] = field(default_factory=dict)
    review_seconds: float = 0.0  # real time a review takes, to observe reviewers in parallel
    review_requests: list[ReviewChangeInput] = field(default_factory=list)
    active_reviews: int = 0
    max_active_reviews: int = 0
    invalid_plan: bool = False
    # Plans answered in turn (the last repeats); None: two_task_plan().
    plans: list[Plan] | None = None
    # task id -> how many of its "task" edit requests fail permanently before one succeeds
    failing_tasks: dict[str, int] = field(default_factory=dict)
    edit_seconds: float = 0.0  # real time a "task" edit takes, to observe concurrency
    plan_requests: list[DraftPlanInput] = field(default_factory=list)
    # What each change was asked for: whole-file requests (runs before the loop) or briefs.
    edit_requests: list[DraftEditsInput | AgentBrief] = field(default_factory=list)
    turns: list[AgentTurnInput] = field(default_factory=list)
    conflict_requests: list[ResolveConflictInput] = field(default_factory=list)
    reviews: int = 0
    active_edits: int = 0
    max_active_edits: int = 0

    def model_activities(self) -> list[Callable[..., Any]]:
        return [
            self.draft_plan,
            self.draft_edits,
            self.review_change,
            self.resolve_conflict,
            self.agent_turn,
        ]

    @activity.defn(name=names.DRAFT_PLAN)
    async def draft_plan(self, input: DraftPlanInput) -> DraftPlanOutput:
        self.plan_requests.append(input)
        if self.invalid_plan:
            raise ApplicationError(
                "plan: the model's answer was invalid 3 times",
                type=names.ERR_INVALID_MODEL_OUTPUT,
                non_retryable=True,
            )
        plans = self.plans or [two_task_plan()]
        plan = plans[min(len(self.plan_requests) - 1, len(plans) - 1)]
        return DraftPlanOutput.model_construct(plan=plan, usage=self.usage, model="fake")

    async def _asked_for_a_change(self, request: DraftEditsInput | AgentBrief) -> None:
        """Records the request; fails or takes time as the test scripted for its task."""
        self.edit_requests.append(request)
        task_id = request.task.id if request.task is not None else ""
        if request.purpose == "task" and self.failing_tasks.get(task_id, 0) > 0:
            self.failing_tasks[task_id] -= 1
            raise ApplicationError(
                f"edits for {task_id}: the model's answer was invalid",
                type=names.ERR_INVALID_MODEL_OUTPUT,
                non_retryable=True,
            )
        if request.purpose == "task" and self.edit_seconds:
            self.active_edits += 1
            self.max_active_edits = max(self.max_active_edits, self.active_edits)
            try:
                await asyncio.sleep(self.edit_seconds)
            finally:
                self.active_edits -= 1

    @activity.defn(name=names.AGENT_TURN)
    async def agent_turn(self, input: AgentTurnInput) -> AgentTurnOutput:
        """Plan: finish at once. Changes: one str_replace on the task's first file, then finish."""
        self.turns.append(input)
        brief = input.brief
        done = any(m.role == "assistant" for m in input.messages)
        if brief.purpose != "plan" and not done:
            await self._asked_for_a_change(brief)
            path = brief.task.files[0] if brief.task is not None else "shop/pricing.py"
            args = {"path": path, "old_str": "x = 0", "new_str": "x = 1"}
            call = ToolCall(id=f"c{len(self.turns)}", name="str_replace", arguments=args)
        else:
            args = {"summary": f"{brief.purpose} done"}
            call = ToolCall(id=f"c{len(self.turns)}", name="finish", arguments=args)
        return AgentTurnOutput(
            message=AgentMessage(role="assistant", tool_calls=[call]),
            stop_reason="tool_use",
            usage=self.usage,
            model="fake",
        )

    @activity.defn(name=names.DRAFT_EDITS)
    async def draft_edits(self, input: DraftEditsInput) -> DraftEditsOutput:
        await self._asked_for_a_change(input)
        edits = EditSet(
            summary="edit",
            commit_message=f"{input.purpose} {input.task.id}",
            edits=[FileEdit(path=input.task.files[0], content="x = 1\n")],
        )
        return DraftEditsOutput(edits=edits, usage=self.usage, model="fake")

    @activity.defn(name=names.REVIEW_CHANGE)
    async def review_change(self, input: ReviewChangeInput) -> ReviewChangeOutput:
        self.review_requests.append(input)
        verdict = self.review_by_focus.get(
            input.focus, self.review_verdicts[min(self.reviews, len(self.review_verdicts) - 1)]
        )
        self.reviews += 1
        self.active_reviews += 1
        self.max_active_reviews = max(self.max_active_reviews, self.active_reviews)
        try:
            await asyncio.sleep(self.review_seconds)
        finally:
            self.active_reviews -= 1
        return ReviewChangeOutput(
            verdict=ReviewVerdict(
                verdict=verdict,  # type: ignore[arg-type]
                summary=f"review {self.reviews}",
                rubric=[RubricScore(criterion="correctness", score=4)],
                requested_changes=[] if verdict == "approve" else ["rename x"],
            ),
            usage=self.usage,
            model="fake",
        )

    @activity.defn(name=names.RESOLVE_CONFLICT)
    async def resolve_conflict(self, input: ResolveConflictInput) -> ResolveConflictOutput:
        self.conflict_requests.append(input)
        files = [ResolvedFile(path=p, content="x = 2\n") for p in input.conflicts]
        return ResolveConflictOutput(
            resolution=ConflictResolution(summary="both sides", files=files),
            usage=self.usage,
            model="fake",
        )
