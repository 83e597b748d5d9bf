"""The conflict-resolution model activity: whole resolved files for a conflicting merge."""

from __future__ import annotations

import json
from typing import Any

from temporalio import activity

from activities.model.prompts import SYSTEM_PROMPT, fence
from activities.model.provider import ChatMessage, ModelProvider, StructuredRequest
from activities.model.structured import AnswerCheck, ask_structured
from domain.task import (
    CONFLICT_SCHEMA_NAME,
    RESOLVE_CONFLICT,
    ConflictResolution,
    ResolveConflictInput,
    ResolveConflictOutput,
)

CONFLICT_RESOLUTION_SCHEMA = ConflictResolution.model_json_schema()
_MARKERS = ("<<<<<<< ", ">>>>>>> ", "=======\n")


def conflict_messages(request: ResolveConflictInput, schema: dict[str, Any]) -> list[ChatMessage]:
    """Marker lines first (``Stage: conflict``, ``Task: ...``), as the other prompts do."""
    task = request.task
    files = "\n\n".join(
        f"### {path}\n{fence(request.conflicts[path])}" for path in sorted(request.conflicts)
    )
    parts = [
        f"Stage: conflict\nTask: {task.id}",
        "Merging this task's branch into the issue branch conflicts. Resolve every conflicted "
        "file so that BOTH sides' intended changes are kept, and give each file's whole new "
        "content without any conflict markers.",
        f"## Issue #{request.issue.number}: {request.issue.title}",
        f"## Plan\n{request.plan.summary}",
        f"## Task being integrated\n{task.id}: {task.title}\n{task.description}",
        "## Conflicted files (with conflict markers)\n" + files,
    ]
    if request.feedback.strip():
        parts.append("## Why the previous resolution was refused\n" + fence(request.feedback))
    parts.append(
        f"## Answer\nOne JSON object matching the {CONFLICT_SCHEMA_NAME!r} schema:\n"
        + json.dumps(schema, sort_keys=True, separators=(",", ":"))
    )
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content="\n\n".join(parts)),
    ]


def check_resolution(conflicts: dict[str, str]) -> AnswerCheck[ConflictResolution]:
    """Every conflicted file resolved, nothing else, and no markers left."""

    def check(answer: ConflictResolution) -> list[str]:
        paths = [f.path for f in answer.files]
        problems = [f"{p} is conflicted but missing" for p in sorted(conflicts) if p not in paths]
        problems += [f"{p} is not a conflicted file" for p in paths if p not in conflicts]
        problems += [
            f"{f.path} still contains conflict markers"
            for f in answer.files
            if any(line.startswith(_MARKERS) for line in f.content.splitlines(keepends=True))
        ]
        return problems

    return check


class ConflictActivities:
    def __init__(self, provider: ModelProvider, max_reasks: int = 2) -> None:
        self._provider = provider
        self._max_reasks = max_reasks

    @activity.defn(name=RESOLVE_CONFLICT)
    async def resolve_conflict(self, input: ResolveConflictInput) -> ResolveConflictOutput:
        request = StructuredRequest(
            messages=conflict_messages(input, CONFLICT_RESOLUTION_SCHEMA),
            schema_name=CONFLICT_SCHEMA_NAME,
            json_schema=CONFLICT_RESOLUTION_SCHEMA,
        )
        result = await ask_structured(
            self._provider,
            request,
            ConflictResolution,
            self._max_reasks,
            stage=f"conflict (task {input.task.id})",
            check=check_resolution(input.conflicts),
        )
        activity.logger.info(
            "model resolved conflict in %d attempt(s) with %s", result.attempts, result.model
        )
        return ResolveConflictOutput(
            resolution=result.answer, usage=result.usage, model=result.model
        )
