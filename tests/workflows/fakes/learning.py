"""The learning side of the fake world: lessons to recall, outcome records written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.learning import Lesson, OutcomeRecord, RecallInput, RecallOutput


@dataclass
class FakeLearning:
    """Recalls ``recalled_lessons``; records every outcome; ``learning_down``: both fail."""

    recalled_lessons: list[Lesson] = field(default_factory=list)
    outcome_records: list[OutcomeRecord] = field(default_factory=list)
    learning_down: bool = False

    def learning_activities(self) -> list[Callable[..., Any]]:
        return [self.record_outcome, self.recall_lessons]

    @activity.defn(name=names.RECORD_OUTCOME)
    async def record_outcome(self, record: OutcomeRecord) -> None:
        if self.learning_down:
            raise ApplicationError("learning is down", type=names.ERR_INVALID_REQUEST)
        self.outcome_records.append(record)

    @activity.defn(name=names.RECALL_LESSONS)
    async def recall_lessons(self, request: RecallInput) -> RecallOutput:
        if self.learning_down:
            raise ApplicationError("learning is down", type=names.ERR_INVALID_REQUEST)
        return RecallOutput(lessons=self.recalled_lessons)
