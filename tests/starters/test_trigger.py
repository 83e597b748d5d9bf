"""The Gitea Actions starter starts only for the trigger label being added."""

from __future__ import annotations

from typing import Any

import pytest

from starters.gitea_actions import trigger_reason


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
