"""RepoLearningWorkflow: one repository's outcome records and lessons, kept by Temporal.

One long-running workflow per repository (``domain.learning.learning_workflow_id``). Every
ended IssueWorkflow signals its ``OutcomeRecord`` here (through ``learning.record_outcome``,
a signal-with-start); the lessons are derived from the records as they arrive. People list
lessons with the ``learning_snapshot`` query and edit or delete them through Updates, whose
validators refuse unknown ids and empty text before anything reaches the history.

Bounded: the newest ``max_records`` records are kept (the aggregates count every record ever
written), at most ``MAX_LESSONS`` lessons, and the history is handed to a fresh run by
continue-as-new after ``max_operations_per_run`` signals and Updates.
"""

from __future__ import annotations

from temporalio import workflow

from domain import names
from domain.learning import (
    MAX_DELETED,
    MAX_LESSON_CHARS,
    LearningInput,
    LearningState,
    Lesson,
    LessonDelete,
    LessonEdit,
    MergedNote,
    OutcomeRecord,
    learn,
)


@workflow.defn(name=names.LEARNING_WORKFLOW)
class RepoLearningWorkflow:
    @workflow.init
    def __init__(self, input: LearningInput) -> None:
        self._state = input.state.model_copy(deep=True)
        self._max_records = input.max_records
        self._operations = 0

    @workflow.run
    async def run(self, input: LearningInput) -> None:
        await workflow.wait_condition(
            lambda: (
                self._operations >= input.max_operations_per_run
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(input.model_copy(update={"state": self._state}))

    @workflow.signal(name=names.LEARNING_RECORD)
    def record(self, record: OutcomeRecord) -> None:
        self._operations += 1
        state = self._state
        if any(kept.key == record.key for kept in state.records):
            return  # a retried activity signalled twice
        state.records = [*state.records, record][-self._max_records :]
        totals = state.aggregates
        totals.runs += 1
        totals.outcomes[record.outcome] = totals.outcomes.get(record.outcome, 0) + 1
        totals.cost_usd = round(totals.cost_usd + record.usage.cost_usd, 6)
        learn(state, record)

    @workflow.signal(name=names.LEARNING_MERGED)
    def merged(self, note: MergedNote) -> None:
        self._operations += 1
        for record in reversed(self._state.records):
            if record.workflow_id == note.workflow_id:
                record.merged = note.merged
                return

    @workflow.query(name=names.LEARNING_SNAPSHOT)
    def snapshot(self) -> LearningState:
        return self._state

    @workflow.update(name=names.LEARNING_EDIT_LESSON)
    def edit_lesson(self, edit: LessonEdit) -> Lesson:
        self._operations += 1
        lesson = self._lesson(edit.id)
        lesson.text = " ".join(edit.text.split())
        lesson.edited_by = edit.by
        return lesson

    @edit_lesson.validator
    def _check_edit(self, edit: LessonEdit) -> None:
        self._lesson(edit.id)
        text = " ".join(edit.text.split())
        if not text:
            raise ValueError("a lesson needs text; delete it instead")
        if len(text) > MAX_LESSON_CHARS:
            raise ValueError(f"a lesson is at most {MAX_LESSON_CHARS} characters")

    @workflow.update(name=names.LEARNING_DELETE_LESSON)
    def delete_lesson(self, request: LessonDelete) -> Lesson:
        self._operations += 1
        state = self._state
        lesson = self._lesson(request.id)
        state.lessons = [kept for kept in state.lessons if kept.id != request.id]
        # Remembered, so that the next record with the same observation does not bring it back.
        state.deleted = [*state.deleted, lesson.key][-MAX_DELETED:]
        workflow.logger.info("lesson %s deleted by %s", lesson.id, request.by)
        return lesson

    @delete_lesson.validator
    def _check_delete(self, request: LessonDelete) -> None:
        self._lesson(request.id)

    def _lesson(self, lesson_id: str) -> Lesson:
        for lesson in self._state.lessons:
            if lesson.id == lesson_id:
                return lesson
        raise ValueError(f"no lesson {lesson_id!r} in {self._state.repo}")
