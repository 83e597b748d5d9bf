"""Start (or attach to) a cross-repository change from an issue naming a cross-repo workflow.

python -m starters.cross_repo --workflow NAME --repo owner/name --issue N

The same run starts from an issue labelled ``autopilot:<workflow name>``: webhooks and Actions
call :func:`workflow_for_labels` and :func:`start_cross_repo_run`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from config.settings import AutopilotConfig, load_config, merge_edges
from domain import names
from domain.cross_repo import (
    CrossRepoInput,
    CrossRepoTarget,
    cross_repo_key,
    cross_repo_workflow_id,
)
from domain.issue import IssueRef, RepoRef
from starters.common import (
    StartedRun,
    StarterError,
    check_issue,
    connect,
    issue_ref,
    latest_run_status,
    run_main,
    ui_link,
)

LABEL_PREFIX = "autopilot:"


def workflow_for_labels(config: AutopilotConfig, labels: Iterable[str]) -> str | None:
    """The cross-repo workflow an ``autopilot:<name>`` label on the issue names, if any."""
    for label in labels:
        name = label.removeprefix(LABEL_PREFIX)
        if label.startswith(LABEL_PREFIX) and name in config.cross_repo_workflows:
            return name
    return None


def cross_repo_input(config: AutopilotConfig, workflow: str, trigger: IssueRef) -> CrossRepoInput:
    spec = config.cross_repo_workflows.get(workflow)
    if spec is None:
        known = ", ".join(sorted(config.cross_repo_workflows)) or "none"
        raise StarterError(f"unknown cross-repo workflow {workflow!r} (configured: {known})")
    edges = merge_edges(config.repositories)
    members = set(spec.repositories)
    targets = []
    for name in spec.repositories:
        repository = config.repository_named(name)
        assert repository is not None  # load_config checked every name
        owner, _, repo = repository.repo.partition("/")
        targets.append(
            CrossRepoTarget(
                name=name,
                repo=RepoRef(forge_url=config.forge.url, owner=owner, name=repo),
                default_branch=repository.default_branch,
                depends_on=sorted(edges.get(name, set()) & members),
                repo_settings=repository.repo_settings(),
                settings=config.run_settings(repository),
                model=config.model_run_settings(repository),
            )
        )
    return CrossRepoInput(
        workflow_name=workflow,
        trigger=trigger,
        targets=targets,
        coordination=spec.coordination,
        on_failure=spec.on_failure,
        poll_seconds=spec.poll_seconds,
        max_poll_seconds=spec.max_poll_seconds,
        needs_human_grace_seconds=spec.needs_human_grace_seconds,
        merge_style=spec.merge_style,
    )


async def start_cross_repo_run(
    client: Client, config: AutopilotConfig, workflow: str, trigger: IssueRef
) -> StartedRun:
    """Start the change, or attach to the one already running for this trigger issue."""
    input = cross_repo_input(config, workflow, trigger)
    workflow_id = cross_repo_workflow_id(workflow, trigger)
    running = await latest_run_status(client, workflow_id) == WorkflowExecutionStatus.RUNNING
    handle = await client.start_workflow(
        names.CROSS_REPO_WORKFLOW,
        input,
        id=workflow_id,
        task_queue=config.temporal.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.SA_REPO, trigger.repo.full_name),
                SearchAttributePair(names.SA_ISSUE, trigger.number),
                SearchAttributePair(names.SA_OUTCOME, "running"),
                SearchAttributePair(names.SA_CROSS_REPO, cross_repo_key(workflow, trigger)),
            ]
        ),
    )
    run_id = handle.result_run_id or ""
    link = ui_link(config, workflow_id, run_id or None)
    return StartedRun(workflow_id, run_id, not running, link)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starters.cross_repo", description=__doc__)
    p.add_argument("--workflow", required=True, help="a name under cross_repo_workflows")
    p.add_argument("--repo", required=True, help="owner/name of the trigger issue's repository")
    p.add_argument("--issue", required=True, type=int, help="trigger issue number")
    p.add_argument("--config", type=Path, help="config file (default: config/autopilot.yaml)")
    return p


async def start(args: argparse.Namespace) -> int:
    config = load_config(path=args.config)
    trigger = issue_ref(config, args.repo, args.issue)
    cross_repo_input(config, args.workflow, trigger)  # a bad name fails before any network call
    title = (await check_issue(config, trigger, config.forge_token())).title
    client = await connect(config)
    run = await start_cross_repo_run(client, config, args.workflow, trigger)
    verb = "started" if run.started else "already running"
    print(f"{verb}: {run.workflow_id} ({title})")
    print(f"web ui: {run.ui_link}")
    return 0


if __name__ == "__main__":
    arguments = parser().parse_args()
    run_main(lambda: start(arguments), "cross_repo")
