"""Saves the event histories of real end-to-end runs for ``tests/replay``.

Only when ``AUTOPILOT_RECORD_HISTORIES=<generation>`` is set; otherwise ``save_history`` does
nothing, so the end-to-end tests run the same with and without it. A history is written to
``tests/histories/<generation>/<workflow type in snake case>_<case>.json``, for example
``v2-setup-stage/issue_failed.json`` for an ``IssueWorkflow``; the type is read from the history
itself, so a file's name always says which workflow it replays. A generation is the workflow
code a set of histories was recorded with: a behaviour change records a new one and keeps the
older ones, so every ``workflow.patched`` branch stays replayed (README, "Changing workflows").
"""

from __future__ import annotations

import asyncio
import os
import re
import sysconfig
import time
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

RECORD_ENV = "AUTOPILOT_RECORD_HISTORIES"
HISTORY_DIR = Path(__file__).resolve().parents[1] / "histories"
SETTLE_SECONDS = 30.0


def generation() -> str | None:
    """The folder recordings go to, or None when not recording."""
    value = os.environ.get(RECORD_ENV, "")
    if value in ("", "0"):
        return None
    if not re.fullmatch(r"v\d+-[a-z0-9-]+", value):
        raise ValueError(f"{RECORD_ENV} names a generation such as v3-what-changed, not {value!r}")
    return value


def type_prefix(workflow_type: str) -> str:
    """``CrossRepoWorkflow`` -> ``cross_repo``: the first part of a history's file name."""
    stem = workflow_type.removesuffix("Workflow")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).lower()


async def settled(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the run is idle: no workflow task, activity or child start in flight.

    A history fetched while a run waits (at the approval gate, say) then ends on the commands
    of its last completed workflow task instead of in the middle of one.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        raw = (await handle.describe()).raw_description
        busy = (
            raw.HasField("pending_workflow_task")
            or len(raw.pending_activities) > 0
            or any(not child.run_id for child in raw.pending_children)
        )
        if not busy:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{handle.id} never settled: {raw}")


async def save_history(
    client: Client,
    workflow_id: str,
    case: str,
    run_id: str | None = None,
    *,
    settle: bool = False,
) -> Path | None:
    """Write one run's history (the latest run unless ``run_id``) when recording is on.

    ``settle`` first waits until the run is idle, for a history taken while it still runs.
    """
    folder = generation()
    if folder is None:
        return None
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    if settle:
        await settled(handle)
    history = await handle.fetch_history()
    first = history.events[0]
    assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, first
    workflow_type = first.workflow_execution_started_event_attributes.workflow_type.name
    path = HISTORY_DIR / folder / f"{type_prefix(workflow_type)}_{case}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(without_machine_paths(history.to_json()))
    return path


async def continued_from(client: Client, workflow_id: str, run_id: str | None = None) -> str | None:
    """The run that continued as new into this one (the latest unless ``run_id``), if any."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        return started.continued_execution_run_id or None
    raise AssertionError(f"{workflow_id} has no history")


def without_machine_paths(text: str) -> str:
    """Stack traces in failures name this checkout and its virtualenv; keep them relative."""
    root = str(Path(__file__).resolve().parents[2])
    site = str(Path(sysconfig.get_paths()["purelib"]))
    return text.replace(site + "/", "site-packages/").replace(root + "/", "")
