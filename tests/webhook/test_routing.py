"""The routing table: which verified deliveries start runs, run commands, or are ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import AutopilotConfig, CrossRepoWorkflowConfig
from domain.issue import issue_of_branch
from starters.webhook.commands import Command
from starters.webhook.routing import (
    Ignore,
    PullActivity,
    RefuseCommand,
    RunCommand,
    StartRun,
    route,
)
from tests.webhook.payloads import (
    BOT,
    CROSS_REPO,
    REPO,
    comment_event,
    label_event,
    review_event,
)


def test_trigger_label_among_current_labels_starts(config: AutopilotConfig) -> None:
    event = label_event(["bug", "autopilot"])
    assert route("issues", event, config, BOT) == StartRun(REPO, 3)


def test_the_issue_creation_time_goes_with_the_start(config: AutopilotConfig) -> None:
    event = label_event(["autopilot"])
    event["issue"]["created_at"] = "2025-03-01T10:00:00Z"
    routed = route("issues", event, config, BOT)
    assert isinstance(routed, StartRun)
    assert routed.created == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_an_unknown_command_is_refused_with_a_reply(config: AutopilotConfig) -> None:
    routed = route("issue_comment", comment_event("/autopilot merge"), config, BOT)
    assert isinstance(routed, RefuseCommand)
    assert (routed.author, routed.comment_id) == ("alice", 9)
    assert "unknown command 'merge'" in routed.reason


def test_an_unknown_command_without_a_comment_id_is_only_ignored(
    config: AutopilotConfig,
) -> None:
    event = comment_event("/autopilot merge")
    del event["comment"]["id"]
    routed = route("issue_comment", event, config, BOT)
    assert isinstance(routed, Ignore) and "unknown command 'merge'" in routed.reason


def test_repository_names_are_case_insensitive(config: AutopilotConfig) -> None:
    assert route("issues", label_event(["autopilot"], repo="ACME/App"), config, BOT) == StartRun(
        "ACME/App", 3
    )


def test_cross_repo_label_starts_the_cross_repo_change(config: AutopilotConfig) -> None:
    event = label_event(["bug", f"autopilot:{CROSS_REPO}"])
    assert route("issues", event, config, BOT) == StartRun(REPO, 3, CROSS_REPO)


def test_cross_repo_label_wins_over_the_trigger_label(config: AutopilotConfig) -> None:
    event = label_event(["autopilot", f"autopilot:{CROSS_REPO}"])
    assert route("issues", event, config, BOT) == StartRun(REPO, 3, CROSS_REPO)


def test_unknown_cross_repo_label_with_the_trigger_label_starts_a_single_run(
    config: AutopilotConfig,
) -> None:
    event = label_event(["autopilot", "autopilot:nope"])
    assert route("issues", event, config, BOT) == StartRun(REPO, 3)


def test_two_cross_repo_labels_pick_the_same_workflow_every_time(
    config: AutopilotConfig,
) -> None:
    config.cross_repo_workflows["alpha"] = CrossRepoWorkflowConfig(repositories=["app"])
    for labels in (["autopilot:pair", "autopilot:alpha"], ["autopilot:alpha", "autopilot:pair"]):
        assert route("issues", label_event(labels), config, BOT) == StartRun(REPO, 3, "alpha")


def test_approve_comment_becomes_a_command(config: AutopilotConfig) -> None:
    event = comment_event("/autopilot approve", author="carol")
    assert route("issue_comment", event, config, BOT) == RunCommand(
        REPO, 3, "carol", Command("approve"), comment_id=9
    )


def test_the_bot_account_used_by_a_person_may_still_command(config: AutopilotConfig) -> None:
    # The dev stack's admin is both the worker's forge user and the maintainer.
    event = comment_event("/autopilot approve", author=BOT)
    assert route("issue_comment", event, config, BOT) == RunCommand(
        REPO, 3, BOT, Command("approve"), comment_id=9
    )
    assert route("issues", label_event(["autopilot"], sender=BOT), config, BOT) == StartRun(REPO, 3)


def _pull(event: dict[str, Any]) -> dict[str, Any]:
    event["issue"]["pull_request"] = {"merged": False}
    return event


def _comment_on_pull(event: dict[str, Any]) -> dict[str, Any]:
    event["is_pull"] = True
    return event


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("push", {"action": "label_updated"}, "event 'push' is not handled"),
        ("", {}, "event '(none)' is not handled"),
        ("issues", {**label_event(["autopilot"]), "action": "opened"}, "action 'opened'"),
        ("issues", {**label_event([]), "action": "label_cleared"}, "action 'label_cleared'"),
        ("issues", label_event(["bug"]), "does not carry the label 'autopilot'"),
        ("issues", label_event(["autopilot:nope"]), "or autopilot:<cross-repo workflow>"),
        ("issues", label_event(["autopilot:"]), "does not carry the label"),
        ("issues", label_event(["autopilot:pair"], repo="acme/manual"), "automation is off"),
        ("issues", label_event(["autopilot:pair"], repo="x/y"), "'x/y' is not configured"),
        ("issues", _pull(label_event(["autopilot:pair"])), "#3 is a pull request"),
        (
            "issues",
            {**label_event(["autopilot:pair"]), "action": "opened"},
            "action 'opened'",
        ),
        ("issues", label_event(["autopilot"], repo="other/repo"), "'other/repo' is not configured"),
        ("issues", label_event(["autopilot"], repo="acme/manual"), "automation is off"),
        ("issues", _pull(label_event(["autopilot"])), "#3 is a pull request"),
        ("issues", {"action": "label_updated", "issue": {}}, "names no repository or issue"),
        ("issue_comment", comment_event("/autopilot approve", action="edited"), "'edited'"),
        (
            "issue_comment",
            comment_event("/autopilot retry\n<!-- autopilot:progress -->", author=BOT),
            "written by Autopilot itself",
        ),
        ("issue_comment", comment_event("nice"), "no /autopilot command"),
        ("issue_comment", comment_event("> /autopilot approve"), "no /autopilot command"),
        ("issue_comment", _comment_on_pull(comment_event("/autopilot approve")), "pull request"),
    ],
)
def test_ignored(event: str, payload: dict[str, Any], reason: str, config: AutopilotConfig) -> None:
    routed = route(event, payload, config, BOT)
    assert isinstance(routed, Ignore), routed
    assert reason in routed.reason


@pytest.mark.parametrize(
    "event", ["pull_request_approved", "pull_request_rejected", "pull_request_comment"]
)
def test_reviews_on_a_pull_request_go_to_its_run(event: str, config: AutopilotConfig) -> None:
    assert route(event, review_event(), config, BOT) == PullActivity(REPO, 12, "autopilot/issue-3")


def test_a_closed_pull_request_goes_to_its_run(config: AutopilotConfig) -> None:
    payload = review_event(action="closed")
    assert route("pull_request", payload, config, BOT) == PullActivity(
        REPO, 12, "autopilot/issue-3"
    )


def test_a_plain_comment_on_a_pull_request_goes_to_its_run(config: AutopilotConfig) -> None:
    payload = _comment_on_pull(comment_event("Please also handle 0 units"))
    # Gitea's issue_comment payload for a PR names no head: the receiver reads it.
    assert route("issue_comment", payload, config, BOT) == PullActivity(REPO, 3, "")


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("pull_request", review_event(action="assigned"), "action 'assigned'"),
        ("pull_request_comment", {**review_event(), "repository": {}}, "names no repository"),
        ("pull_request_approved", review_event(number=0), "names no repository"),
    ],
)
def test_pull_request_events_ignored(
    event: str, payload: dict[str, Any], reason: str, config: AutopilotConfig
) -> None:
    routed = route(event, payload, config, BOT)
    assert isinstance(routed, Ignore) and reason in routed.reason, routed


def test_autopilots_own_answer_on_a_pull_request_does_not_wake_it(
    config: AutopilotConfig,
) -> None:
    payload = _comment_on_pull(comment_event("answered\n<!-- autopilot:answer:2 -->", author=BOT))
    routed = route("issue_comment", payload, config, BOT)
    assert isinstance(routed, Ignore) and "Autopilot itself" in routed.reason


@pytest.mark.parametrize(
    ("branch", "issue"),
    [
        ("autopilot/issue-3", 3),
        ("autopilot/issue-120", 120),
        ("autopilot/issue-3-task-fix", None),  # a task's branch never has a PR of its own
        ("autopilot/issue-03", None),
        ("autopilot/revert-3", None),
        ("feature/issue-3", None),
        ("autopilot/issue-", None),
    ],
)
def test_the_run_behind_a_pull_request_is_read_from_its_branch(
    branch: str, issue: int | None
) -> None:
    assert issue_of_branch(branch) == issue
