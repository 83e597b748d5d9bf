"""Entry point for Gitea Actions: start the issue's run when the trigger label is added.

Gitea hands the job the event payload at $GITHUB_EVENT_PATH. Label changes arrive as
``issues`` events with action ``label_updated`` and ``changes.added_labels`` (Actions payloads
carry ``changes``; webhook payloads do not). Anything else is a no-op that exits 0.

Once the issue's run has finished, an event whose label was added before the run ended (a
re-fired event, a re-run job) exits 0 saying so; one added after it (the label removed and
added again) starts a new run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from config.settings import AutopilotConfig, load_config
from domain.cross_repo import cross_repo_workflow_id
from domain.issue import IssueRef
from starters.common import (
    RunFinished,
    StarterError,
    check_issue,
    closed_before,
    connect,
    issue_ref,
    latest_run,
    parse_time,
    rerun_hint,
    run_main,
    start_issue_run,
)
from starters.cross_repo import LABEL_PREFIX, start_cross_repo_run, workflow_for_labels

LABEL_ACTIONS = {"label_updated", "labeled"}


def read_event(env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    name = env.get("GITHUB_EVENT_NAME", "")
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        raise StarterError("GITHUB_EVENT_PATH is not set: run this from a Gitea Actions job")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StarterError(f"cannot read the event payload {path}: {err}") from None
    if not isinstance(payload, dict):
        raise StarterError(f"the event payload {path} is not a JSON object")
    return name, payload


def added_labels(payload: dict[str, Any]) -> set[str]:
    added = (payload.get("changes") or {}).get("added_labels") or []
    return {str(item.get("name")) for item in added if isinstance(item, dict)}


def trigger_reason(
    name: str, payload: dict[str, Any], label: str, also: Iterable[str] = ()
) -> str | None:
    """None when this event should start a run; otherwise why it is ignored.

    ``also``: further trigger labels, e.g. ``autopilot:<cross-repo workflow>``."""
    if name != "issues":
        return f"event {name or '(none)'} is not an issues event"
    action = payload.get("action")
    if action not in LABEL_ACTIONS:
        return f"issues action {action!r} is not a label change"
    issue = payload.get("issue") or {}
    if issue.get("pull_request"):
        return "the labelled item is a pull request"
    if not added_labels(payload) & {label, *also}:
        return f"label {label!r} was not added by this event"
    return None


def event_time(payload: dict[str, Any]) -> datetime | None:
    """When the label was added: Gitea records a label change on the issue's timeline, which
    moves ``issue.updated_at``. A re-fired event (a re-run job) carries its old payload."""
    return parse_time((payload.get("issue") or {}).get("updated_at"))


async def handle_event(config: AutopilotConfig, env: dict[str, str]) -> int:
    name, payload = read_event(env)
    cross_labels = [f"{LABEL_PREFIX}{wf}" for wf in config.cross_repo_workflows]
    ignored = trigger_reason(name, payload, config.trigger.label, cross_labels)
    if ignored:
        print(f"autopilot: nothing to do ({ignored})")
        return 0
    repo = (payload.get("repository") or {}).get("full_name") or env.get("GITHUB_REPOSITORY", "")
    number = int((payload.get("issue") or {}).get("number") or 0)
    if not repo or number <= 0:
        raise StarterError("the event payload names no repository or issue")
    issue = issue_ref(config, repo, number)
    repository = config.repository(repo)
    if repository is not None and not repository.automation:
        print(f"autopilot: nothing to do (automation is off for {repo})")
        return 0
    await check_issue(config, issue, config.forge_token())
    client = await connect(config)
    cross_repo = workflow_for_labels(config, added_labels(payload))
    if cross_repo is not None:
        refused = await _finished_change(client, cross_repo, issue, payload)
        if refused:
            print(f"autopilot: nothing to do ({refused})")
            return 0
    try:
        if cross_repo is not None:
            run = await start_cross_repo_run(client, config, cross_repo, issue)
        else:
            # The label was added after the last run ended: the label removed and added
            # again, an explicit request. An older event (re-fired) is refused.
            run = await start_issue_run(client, config, issue, newer_than=event_time(payload))
    except RunFinished as finished:
        again = f"remove the label {config.trigger.label!r} and add it again"
        print(
            f"autopilot: nothing to do ({finished.finished} and this event is older; "
            f"{rerun_hint(issue, again)})"
        )
        return 0
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id}")
    print(f"web ui: {run.ui_link}")
    return 0


async def _finished_change(
    client: Client, workflow: str, trigger: IssueRef, payload: dict[str, Any]
) -> str | None:
    """Why a re-fired event must not restart a finished cross-repo change; None to go on."""
    previous = await latest_run(client, cross_repo_workflow_id(workflow, trigger))
    if previous is None or previous.status == WorkflowExecutionStatus.RUNNING:
        return None
    if closed_before(previous, event_time(payload)):
        return None
    repo, number = trigger.repo.full_name, trigger.number
    return (
        f"the cross-repo change {workflow!r} for issue #{number} has finished and this event "
        f"is older; to start a new one, remove the label {LABEL_PREFIX}{workflow} and add it "
        f"again or run python -m starters.cross_repo --workflow {workflow} --repo {repo} "
        f"--issue {number}"
    )


def main() -> None:
    env = dict(os.environ)
    # Inside Actions the forge is the server that fired the event.
    if env.get("GITHUB_SERVER_URL") and not env.get("AUTOPILOT__FORGE__URL", "").strip():
        env["AUTOPILOT__FORGE__URL"] = env["GITHUB_SERVER_URL"]

    async def go() -> int:
        return await handle_event(load_config(env=env), env)

    run_main(go, "autopilot")


if __name__ == "__main__":
    main()
