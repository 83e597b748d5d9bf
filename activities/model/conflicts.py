"""Conflict resolution prompts and checks: whole resolved files for a conflicting merge.

The activity itself is ``ModelActivities.resolve_conflict``: tiers, cache and metrics like
every other model call.
"""

from __future__ import annotations

import json
from typing import Any

from activities.model.prompts import SYSTEM_PROMPT, fence
from activities.model.provider import ChatMessage
from activities.model.structured import AnswerCheck
from domain.task import (
    CONFLICT_SCHEMA_NAME,
    ConflictResolution,
    ResolveConflictInput,
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
