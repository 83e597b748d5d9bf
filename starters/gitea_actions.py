"""Entry point for Gitea Actions: start the issue's run when the trigger label is added.

Gitea hands the job the event payload at $GITHUB_EVENT_PATH. Label changes arrive as
``issues`` events with action ``label_updated`` and ``changes.added_labels`` (Actions payloads
carry ``changes``; webhook payloads do not). Anything else is a no-op that exits 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from config.settings import AutopilotConfig, load_config
from starters.common import (
    StarterError,
    check_issue,
    connect,
    issue_ref,
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
        run = await start_cross_repo_run(client, config, cross_repo, issue)
    else:
        run = await start_issue_run(client, config, issue)
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id}")
    print(f"web ui: {run.ui_link}")
    return 0


def main() -> None:
    env = dict(os.environ)
    # Inside Actions the forge is the server that fired the event.
    if env.get("GITHUB_SERVER_URL") and "AUTOPILOT__FORGE__URL" not in env:
        env["AUTOPILOT__FORGE__URL"] = env["GITHUB_SERVER_URL"]

    async def go() -> int:
        return await handle_event(load_config(env=env), env)

    run_main(go, "autopilot")


if __name__ == "__main__":
    main()
