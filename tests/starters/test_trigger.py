"""The Gitea Actions starter starts only for the trigger label being added."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from domain.issue import IssueRef, RepoRef
from starters import gitea_actions
from starters.gitea_actions import trigger_reason

LATER = datetime(2025, 3, 1, 10, 30, tzinfo=UTC)


def label_event(action: str = "label_updated", added: list[str] | None = None) -> dict[str, Any]:
    return {
        "action": action,
        "issue": {"number": 3, "pull_request": None},
        "changes": {"added_labels": [{"name": n} for n in (added or [])], "removed_labels": None},
    }


def test_trigger_label_added_starts() -> None:
    assert trigger_reason("issues", label_event(added=["bug", "autopilot"]), "autopilot") is None


def test_github_style_labeled_action_also_starts() -> None:
    assert trigger_reason("issues", label_event("labeled", ["autopilot"]), "autopilot") is None


@pytest.mark.parametrize(
    ("name", "event", "why"),
    [
        ("issues", label_event(added=["bug"]), "was not added"),
        ("issues", label_event(added=[]), "was not added"),
        ("issues", {**label_event(added=["autopilot"]), "changes": None}, "was not added"),
        ("issues", label_event("opened", ["autopilot"]), "not a label change"),
        ("push", label_event(added=["autopilot"]), "not an issues event"),
    ],
)
def test_other_events_are_ignored(name: str, event: dict[str, Any], why: str) -> None:
    reason = trigger_reason(name, event, "autopilot")
    assert reason is not None and why in reason


def test_pull_request_labels_are_ignored() -> None:
    event = {**label_event(added=["autopilot"]), "issue": {"number": 3, "pull_request": {"x": 1}}}
    assert trigger_reason("issues", event, "autopilot") == "the labelled item is a pull request"


def test_a_cross_repo_label_is_a_trigger_too() -> None:
    event = label_event(added=["autopilot:api-change"])
    assert trigger_reason("issues", event, "autopilot", ["autopilot:api-change"]) is None
    assert trigger_reason("issues", event, "autopilot", ["autopilot:other"]) is not None


class Described:
    """The two fields of a workflow description the rerun rule reads."""

    def __init__(self, status: WorkflowExecutionStatus, close_time: datetime | None) -> None:
        self.status, self.close_time = status, close_time


@pytest.mark.parametrize(
    ("previous", "updated_at", "refused"),
    [
        (None, "2025-03-01T10:00:00Z", False),
        (Described(WorkflowExecutionStatus.RUNNING, None), "2025-03-01T10:00:00Z", False),
        # The run ended after the label was added: a re-fired event.
        (Described(WorkflowExecutionStatus.COMPLETED, LATER), "2025-03-01T10:00:00Z", True),
        (Described(WorkflowExecutionStatus.COMPLETED, LATER), None, True),
        # The label was added again after the run ended.
        (Described(WorkflowExecutionStatus.FAILED, LATER), "2025-03-01T12:40:00+02:00", False),
    ],
)
async def test_a_finished_cross_repo_change_needs_a_newer_event(
    monkeypatch: pytest.MonkeyPatch,
    previous: Described | None,
    updated_at: str | None,
    refused: bool,
) -> None:
    async def latest_run(_client: Any, workflow_id: str) -> Described | None:
        assert workflow_id.startswith("autopilot-cross:pair:")
        return previous

    monkeypatch.setattr(gitea_actions, "latest_run", latest_run)
    trigger = IssueRef(repo=RepoRef(forge_url="http://f.test", owner="o", name="r"), number=3)
    payload = {"issue": {"number": 3, "updated_at": updated_at}}
    why = await gitea_actions._finished_change(cast(Client, None), "pair", trigger, payload)
    assert (why is not None) == refused
    if why:
        assert why.startswith("the cross-repo change 'pair' for issue #3 has finished")
        assert why.endswith("python -m starters.cross_repo --workflow pair --repo o/r --issue 3")
