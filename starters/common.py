"""What every starter shares: config, the issue check, the idempotent start, clean exits."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from config.settings import AutopilotConfig, ConfigError
from domain import names
from domain.issue import IssueRef, RepoRef
from domain.run import IssueWorkflowInput, RunSettings


class StarterError(Exception):
    """A problem a person can fix; printed as one line, exit status 2."""


@dataclass(frozen=True)
class StartedRun:
    workflow_id: str
    run_id: str
    started: bool  # False: a run for this issue was already going and we attached to it
    ui_link: str


def issue_ref(config: AutopilotConfig, repo: str, number: int) -> IssueRef:
    if config.repository(repo) is None:
        known = ", ".join(r.repo for r in config.repositories) or "none"
        raise StarterError(f"unknown repository {repo!r} (configured: {known})")
    owner, _, name = repo.partition("/")
    return IssueRef(repo=RepoRef(forge_url=config.forge.url, owner=owner, name=name), number=number)


async def check_issue(config: AutopilotConfig, issue: IssueRef, token: str) -> str:
    """The issue's title; a clear StarterError when the forge says it does not exist."""
    repo = issue.repo
    try:
        async with GiteaClient(config.forge.url, token) as forge:
            found = await forge.get_issue(repo.owner, repo.name, issue.number)
    except GiteaError as err:
        if err.status == 404:
            raise StarterError(f"issue #{issue.number} not found in {repo.full_name}") from None
        if err.status is None or err.status >= 500:
            raise StarterError(f"cannot reach the forge at {config.forge.url}") from None
        raise StarterError(f"the forge refused: {err.message}") from None
    if found.pull_request is not None:
        raise StarterError(f"#{issue.number} in {repo.full_name} is a pull request, not an issue")
    return found.title


def workflow_input(config: AutopilotConfig, issue: IssueRef) -> IssueWorkflowInput:
    repository = config.repository(issue.repo.full_name)
    assert repository is not None
    return IssueWorkflowInput(
        issue=issue,
        repo_settings=repository.repo_settings(),
        settings=RunSettings.model_validate(config.run.model_dump()),
        model=config.model_run_settings(repository),
    )


def ui_link(config: AutopilotConfig, workflow_id: str, run_id: str | None = None) -> str:
    base = config.temporal.ui_url.rstrip("/")
    link = f"{base}/namespaces/{quote(config.temporal.namespace, safe='')}/workflows/"
    link += quote(workflow_id, safe="")
    return f"{link}/{run_id}" if run_id else link


async def connect(config: AutopilotConfig) -> Client:
    try:
        return await Client.connect(
            config.temporal.address,
            namespace=config.temporal.namespace,
            data_converter=pydantic_data_converter,
        )
    except RuntimeError:
        raise StarterError(f"cannot reach Temporal at {config.temporal.address}") from None


async def start_issue_run(client: Client, config: AutopilotConfig, issue: IssueRef) -> StartedRun:
    """Start the issue's run, or attach to the one already running: never two at once."""
    workflow_id = issue.workflow_id
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
    try:
        running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        running = False
    if running:
        described = await handle.describe()
        return StartedRun(
            workflow_id, described.run_id, False, ui_link(config, workflow_id, described.run_id)
        )
    started = await client.start_workflow(
        names.ISSUE_WORKFLOW,
        workflow_input(config, issue),
        id=workflow_id,
        task_queue=config.temporal.task_queue,
        # A finished run may be followed by a new one (the label was added again);
        # a running one is joined, so a duplicate trigger never starts a second.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.SA_REPO, issue.repo.full_name),
                SearchAttributePair(names.SA_ISSUE, issue.number),
                SearchAttributePair(names.SA_STAGE, "intake"),
                SearchAttributePair(names.SA_OUTCOME, "running"),
            ]
        ),
    )
    run_id = started.result_run_id or ""
    return StartedRun(workflow_id, run_id, True, ui_link(config, workflow_id, run_id or None))


def run_main(
    main: Callable[[], Coroutine[Any, Any, int]],
    prog: str,
    user_errors: tuple[type[Exception], ...] = (),
) -> NoReturn:
    """Run a starter; user mistakes become one line on stderr, never a traceback."""
    expected: tuple[type[Exception], ...] = (StarterError, ConfigError, *user_errors)
    try:
        code: int = asyncio.run(main())
    except expected as problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio's Rust bridge can abort at interpreter exit; exit with our own status instead.
    os._exit(code)


async def latest_run_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The status of the newest run with this workflow id; None when there never was one."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
    try:
        return (await handle.describe()).status
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return None
