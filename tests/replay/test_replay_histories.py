"""Saved histories of real runs must replay against today's workflow code.

A change that would break workflows already running in production fails here first. Histories
live in one folder per generation of the workflow code (``tests/histories/v1-…``, ``v2-…``);
every generation keeps replaying. In the newest one, every workflow type the worker registers has
a recorded run, and the IssueWorkflow one for each way a run can stand: done with a PR, failed,
waiting at the approval gate and continued as new. Record a new generation with
``AUTOPILOT_RECORD_HISTORIES=v3-what-changed python -m pytest tests/e2e`` (see
``tests/e2e/histories.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.e2e.histories import HISTORY_DIR, type_prefix
from workers.main import WORKFLOWS
from workflows.runner import WORKFLOW_RUNNER

GENERATIONS = sorted(p for p in HISTORY_DIR.iterdir() if p.is_dir())
HISTORIES = sorted(HISTORY_DIR.glob("*/*.json"))
NEWEST = GENERATIONS[-1] if GENERATIONS else HISTORY_DIR
IDS = [f"{p.parent.name}/{p.stem}" for p in HISTORIES]

# The recorded cases and the event each history ends with. A history taken while its run was
# still waiting ends on the command of its last workflow task (the approval gate's timer).
ENDINGS: dict[str, EventType.ValueType] = {
    "issue_to_pull_request": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    "issue_failed": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    "issue_waiting_at_approval": EventType.EVENT_TYPE_TIMER_STARTED,
    "issue_continued_as_new": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    "issue_resumed_and_continued_as_new": (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    ),
    "issue_parallel_tasks_with_conflict": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    "task_done": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    "cross_repo_merged": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    "cross_repo_compensated": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    "budget_ledger_raced_and_raised": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}
REQUIRED_ISSUE_CASES = [
    "issue_to_pull_request",
    "issue_failed",
    "issue_waiting_at_approval",
    "issue_continued_as_new",
]
# Activities a history must have run to stand for its case.
ACTIVITIES = {
    "issue_parallel_tasks_with_conflict": "model.resolve_conflict",
    "cross_repo_merged": "forge.merge_pull",
    "cross_repo_compensated": "forge.close_pull",
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    first = history.events[0]
    assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, first
    return first.workflow_execution_started_event_attributes.workflow_type.name


def test_there_are_histories_to_replay() -> None:
    assert HISTORIES, "tests/histories holds no recorded run"


def test_every_workflow_type_has_a_recorded_history() -> None:
    registered: set[str] = set()
    for cls in WORKFLOWS:
        name = workflow._Definition.must_from_class(cls).name
        assert name, f"{cls.__name__} has no workflow type name"
        registered.add(name)
    recorded = {workflow_type(load(path)) for path in NEWEST.glob("*.json")}
    missing = sorted(registered - recorded)
    assert not missing, f"no history in {NEWEST.name} replays {missing}"


@pytest.mark.parametrize("case", REQUIRED_ISSUE_CASES)
def test_issue_case_is_recorded(case: str) -> None:
    path = NEWEST / f"{case}.json"
    assert path.is_file(), f"{path} is missing"
    assert workflow_type(load(path)) == "IssueWorkflow"


@pytest.mark.parametrize("generation", GENERATIONS, ids=[g.name for g in GENERATIONS])
@pytest.mark.parametrize("case", ENDINGS)
def test_case_is_still_recorded(generation: Path, case: str) -> None:
    assert (generation / f"{case}.json").is_file(), f"{generation.name}/{case}.json was removed"


@pytest.mark.parametrize("path", HISTORIES, ids=IDS)
def test_history_is_what_its_name_says(path: Path) -> None:
    history = load(path)
    assert path.stem.startswith(type_prefix(workflow_type(history)) + "_"), path.name
    if path.stem in ENDINGS:
        last = history.events[-1].event_type
        assert last == ENDINGS[path.stem], EventType.Name(last)
    if path.stem in ACTIVITIES:
        ran = {
            event.activity_task_scheduled_event_attributes.activity_type.name
            for event in history.events
            if event.HasField("activity_task_scheduled_event_attributes")
        }
        assert ACTIVITIES[path.stem] in ran, sorted(ran)
    if "resumed" in path.stem:  # started from the state its previous run carried over
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id, path.name


@pytest.mark.parametrize("path", HISTORIES, ids=IDS)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=WORKFLOW_RUNNER,
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
