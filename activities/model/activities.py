"""The model activities: draft a plan, draft edits, review a change."""

from __future__ import annotations

from temporalio import activity

from activities.model import prompts
from activities.model.provider import ModelProvider, StructuredRequest
from activities.model.structured import ask_structured
from domain import names
from domain.change import EditSet
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

# Schemas are derived once from the domain models, so prompts and validation never disagree.
PLAN_SCHEMA = Plan.model_json_schema()
EDIT_SET_SCHEMA = EditSet.model_json_schema()
REVIEW_VERDICT_SCHEMA = ReviewVerdict.model_json_schema()


class ModelActivities:
    """Holds the model provider; each activity is one structured question with bounded re-asks."""

    def __init__(self, provider: ModelProvider, max_reasks: int = 2) -> None:
        self._provider = provider
        self._max_reasks = max_reasks

    @activity.defn(name=names.DRAFT_PLAN)
    async def draft_plan(self, input: DraftPlanInput) -> DraftPlanOutput:
        request = StructuredRequest(
            messages=prompts.plan_messages(input, PLAN_SCHEMA),
            schema_name="plan",
            json_schema=PLAN_SCHEMA,
        )
        result = await ask_structured(self._provider, request, Plan, self._max_reasks, stage="plan")
        _log_answer("plan", result.attempts, result.model)
        return DraftPlanOutput(plan=result.answer, usage=result.usage, model=result.model)

    @activity.defn(name=names.DRAFT_EDITS)
    async def draft_edits(self, input: DraftEditsInput) -> DraftEditsOutput:
        request = StructuredRequest(
            messages=prompts.edits_messages(input, EDIT_SET_SCHEMA),
            schema_name="edit_set",
            json_schema=EDIT_SET_SCHEMA,
        )
        result = await ask_structured(
            self._provider,
            request,
            EditSet,
            self._max_reasks,
            stage=f"edits ({input.purpose}, task {input.task.id})",
            check=check_edit_set,
        )
        _log_answer("edits", result.attempts, result.model)
        return DraftEditsOutput(edits=result.answer, usage=result.usage, model=result.model)

    @activity.defn(name=names.REVIEW_CHANGE)
    async def review_change(self, input: ReviewChangeInput) -> ReviewChangeOutput:
        request = StructuredRequest(
            messages=prompts.review_messages(input, REVIEW_VERDICT_SCHEMA),
            schema_name="review_verdict",
            json_schema=REVIEW_VERDICT_SCHEMA,
        )
        result = await ask_structured(
            self._provider,
            request,
            ReviewVerdict,
            self._max_reasks,
            stage="review",
            check=check_review_verdict,
        )
        _log_answer("review", result.attempts, result.model)
        return ReviewChangeOutput(verdict=result.answer, usage=result.usage, model=result.model)


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


def _log_answer(stage: str, attempts: int, model: str) -> None:
    activity.logger.info("model answered %s in %d attempt(s) with %s", stage, attempts, model)
