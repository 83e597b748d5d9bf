"""What a verified delivery asks for: start a run, run a comment command, or nothing.

Pure over the event name and payload, so the routing table is tested without a server.
Gitea webhook payloads (gitea-notes §4): label changes are ``issues`` / ``label_updated`` with
only the labels the issue has now and no ``changes``, so the trigger is "the trigger label is
on the issue" (or ``autopilot:<name>`` for a configured cross-repo workflow, which wins);
comments are ``issue_comment`` / ``created``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.settings import AutopilotConfig
from starters.common import parse_time
from starters.cross_repo import LABEL_PREFIX, workflow_for_labels
from starters.webhook.commands import Command, UnknownCommand, parse_command

ISSUES_EVENT = "issues"
COMMENT_EVENT = "issue_comment"
LABEL_ACTION = "label_updated"
COMMENT_ACTION = "created"
# Every comment Autopilot writes carries one (activities/forge/activities.py).
AUTOPILOT_MARKER = "<!-- autopilot:"


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class StartRun:
    repo: str
    number: int
    cross_repo: str | None = None  # a cross_repo_workflows name: start that change instead
    created: datetime | None = None  # the issue's creation: older finished runs were not its


@dataclass(frozen=True)
class RunCommand:
    repo: str
    number: int
    author: str
    command: Command
    comment_id: int = 0  # the comment holding the command; a refusal replies to it


@dataclass(frozen=True)
class RefuseCommand:
    """An ``/autopilot`` comment naming no command we know: answered on the issue."""

    repo: str
    number: int
    author: str
    comment_id: int
    reason: str


@dataclass(frozen=True)
class PullActivity:
    """A review, comment or state change on a PR: wake the run watching it (the run reads
    the forge itself, so the payload is only a nudge). ``branch`` is the PR's head branch
    when the payload names it; Autopilot's branches say whose issue the PR is."""

    repo: str
    pull: int
    branch: str = ""


Route = Ignore | StartRun | RunCommand | RefuseCommand | PullActivity

# Gitea's X-Gitea-Event of review and PR deliveries (gitea-notes §4).
PULL_EVENTS = (
    "pull_request",
    "pull_request_approved",
    "pull_request_rejected",
    "pull_request_comment",
)
PULL_ACTIONS = ("closed", "reopened", "reviewed", "synchronized", "created", "edited")


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _login(user: dict[str, Any]) -> str:
    login = user.get("login") or user.get("username") or ""
    return login if isinstance(login, str) else ""


def route(event: str, payload: dict[str, Any], config: AutopilotConfig, bot_login: str) -> Route:
    """Where a delivery goes; ``bot_login`` is Autopilot's own forge user, whose comments echo."""
    if event in PULL_EVENTS or (
        event == COMMENT_EVENT and _on_a_pull(payload) and not _holds_command(payload)
    ):
        return _pull_route(event, payload, config, bot_login)
    if event not in (ISSUES_EVENT, COMMENT_EVENT):
        return Ignore(f"event {event or '(none)'!r} is not handled")
    action = payload.get("action")
    wanted = LABEL_ACTION if event == ISSUES_EVENT else COMMENT_ACTION
    if action != wanted:
        return Ignore(f"{event} action {action!r} is not handled")
    issue = _object(payload, "issue")
    repo = _object(payload, "repository").get("full_name")
    number = issue.get("number")
    if not isinstance(repo, str) or not repo or not isinstance(number, int) or number <= 0:
        return Ignore("the payload names no repository or issue")
    repository = config.repository(repo)
    if repository is None:
        return Ignore(f"repository {repo!r} is not configured")
    if not repository.automation:
        return Ignore(f"automation is off for {repo}")
    if issue.get("pull_request") or payload.get("is_pull"):
        return Ignore(f"#{number} is a pull request, not an issue")
    # Autopilot's own label edits come back as label events too: while its run is going they
    # join it, and once it has finished the backend refuses to start another (see backend.py).
    if event == ISSUES_EVENT:
        return _label_route(issue, repo, number, config)
    return _comment_route(payload, repo, number, bot_login)


def _label_route(issue: dict[str, Any], repo: str, number: int, config: AutopilotConfig) -> Route:
    labels = issue.get("labels") or []
    names = {item.get("name") for item in labels if isinstance(item, dict)}
    # Sorted: with two cross-repo labels on one issue, every delivery picks the same one.
    cross_repo = workflow_for_labels(config, sorted(n for n in names if isinstance(n, str)))
    if cross_repo is not None:
        return StartRun(repo, number, cross_repo)
    trigger = config.trigger.label
    if trigger not in names:
        wanted = repr(trigger)
        if config.cross_repo_workflows:
            wanted += f" or {LABEL_PREFIX}<cross-repo workflow>"
        return Ignore(f"issue #{number} does not carry the label {wanted}")
    return StartRun(repo, number, created=parse_time(issue.get("created_at")))


def _comment_route(payload: dict[str, Any], repo: str, number: int, bot_login: str) -> Route:
    comment = _object(payload, "comment")
    author = _login(_object(comment, "user")) or _login(_object(payload, "sender"))
    if not author:
        return Ignore("the comment has no author")
    body = comment.get("body")
    body = body if isinstance(body, str) else ""
    # The forge user may double as a person's account (the dev stack's admin does), so only its
    # comments carrying Autopilot's hidden marker are Autopilot's own.
    if bot_login and author.lower() == bot_login.lower() and AUTOPILOT_MARKER in body:
        return Ignore("written by Autopilot itself")
    comment_id = comment.get("id")
    comment_id = comment_id if isinstance(comment_id, int) else 0
    try:
        command = parse_command(body)
    except UnknownCommand as unknown:
        if not comment_id:
            return Ignore(str(unknown))
        return RefuseCommand(repo, number, author, comment_id, str(unknown))
    if command is None:
        return Ignore("the comment holds no /autopilot command")
    return RunCommand(repo, number, author, command, comment_id)


def _holds_command(payload: dict[str, Any]) -> bool:
    """An ``/autopilot`` command on a PR is not a review: it is refused as before."""
    body = _object(payload, "comment").get("body")
    try:
        return parse_command(body if isinstance(body, str) else "") is not None
    except UnknownCommand:
        return True


def _on_a_pull(payload: dict[str, Any]) -> bool:
    return bool(_object(payload, "issue").get("pull_request") or payload.get("is_pull"))


def _pull_route(
    event: str, payload: dict[str, Any], config: AutopilotConfig, bot_login: str
) -> Route:
    pull = _object(payload, "pull_request")
    issue = _object(payload, "issue")
    repo = _object(payload, "repository").get("full_name")
    number = pull.get("number") or issue.get("number") or payload.get("number")
    if not isinstance(repo, str) or not repo or not isinstance(number, int) or number <= 0:
        return Ignore("the payload names no repository or pull request")
    repository = config.repository(repo)
    if repository is None or not repository.automation:
        return Ignore(f"repository {repo!r} is not configured for automation")
    if payload.get("action") not in PULL_ACTIONS:
        return Ignore(f"{event} action {payload.get('action')!r} is not handled")
    sender = _login(_object(payload, "sender"))
    body = _object(payload, "comment").get("body")
    if bot_login and sender.lower() == bot_login.lower() and AUTOPILOT_MARKER in str(body):
        return Ignore("written by Autopilot itself")
    branch = _object(pull, "head").get("ref")
    return PullActivity(repo, number, branch if isinstance(branch, str) else "")
