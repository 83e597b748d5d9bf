"""What every starter shares: config, the issue check, the idempotent start, clean exits."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.control import current_mode
from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from activities.forge.gitea_models import Issue
from config.settings import AutopilotConfig, ConfigError
from config.temporal import TemporalConnectError, temporal_connection
from domain import names
from domain.capacity import MEMO_ACTIVITY_QUEUES, activity_queues
from domain.issue import IssueRef, RepoRef
from domain.mode import ModeState
from domain.run import GateStage, IssueStatus, IssueWorkflowInput, ResumeRequest, run_link
from workers.telemetry import flush_traces, starter_interceptors


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


async def check_issue(config: AutopilotConfig, issue: IssueRef, token: str) -> Issue:
    """The issue; a clear StarterError when the forge says it does not exist."""
    repo = issue.repo
    try:
        async with GiteaClient(
            config.forge.url, token, timeout=config.forge.timeout_seconds
        ) as forge:
            try:
                found = await forge.get_issue(repo.owner, repo.name, issue.number)
            except GiteaError as err:
                if err.status != 404:
                    raise
                # The forge answers 404 for a missing repository too: say which is missing.
                await forge.get_repo(repo.owner, repo.name)
                raise StarterError(f"issue #{issue.number} not found in {repo.full_name}") from None
    except GiteaError as err:
        if err.status == 404:
            raise StarterError(
                f"repository {repo.full_name} not found on the forge at {config.forge.url} "
                "(or the token cannot see it)"
            ) from None
        if err.status is None or err.status >= 500:
            raise StarterError(f"cannot reach the forge at {config.forge.url}") from None
        raise StarterError(f"the forge refused: {err.message}") from None
    if found.pull_request is not None:
        raise StarterError(f"#{issue.number} in {repo.full_name} is a pull request, not an issue")
    return found


def workflow_input(
    config: AutopilotConfig, issue: IssueRef, gates: list[GateStage] | None = None
) -> IssueWorkflowInput:
    """The run's input; ``gates`` (the starter's ``--gates``) override the configured ones."""
    repository = config.repository(issue.repo.full_name)
    assert repository is not None
    input = IssueWorkflowInput(
        issue=issue,
        repo_settings=repository.repo_settings(),
        settings=config.run_settings(repository),
        model=config.model_run_settings(repository),
    )
    if gates is not None:
        input.settings.gates, input.repo_settings.gates = gates, None
    return input


def ui_link(config: AutopilotConfig, workflow_id: str, run_id: str | None = None) -> str:
    return run_link(config.runs_url(), workflow_id, run_id)


async def connect(config: AutopilotConfig) -> Client:
    """A client for the configured Temporal (TLS, API key: ``config.temporal``)."""
    try:
        # With tracing configured, the start is the root span of the run's trace.
        interceptors = starter_interceptors(config.telemetry)
        return await temporal_connection(config).connect(interceptors=interceptors)
    except TemporalConnectError as failure:
        raise StarterError(str(failure)) from None


class RunFinished(StarterError):
    """The issue's run has finished and nothing asked explicitly for another one."""

    def __init__(self, issue: IssueRef, previous: WorkflowExecutionDescription | None) -> None:
        self.issue = issue
        self.finished = finished_line(issue, previous)
        super().__init__(f"{self.finished}; {rerun_hint(issue)}")


def finished_line(issue: IssueRef, previous: WorkflowExecutionDescription | None) -> str:
    """``the run for issue #3 in o/r has finished (completed, outcome pr_opened)``."""
    how = []
    if previous is not None and previous.status is not None:
        how.append(previous.status.name.lower())
        outcome = previous.typed_search_attributes.get(names.SA_OUTCOME)
        if outcome and outcome != "running":  # a terminated run never set its outcome
            how.append(f"outcome {outcome}")
    detail = f" ({', '.join(how)})" if how else ""
    return f"the run for issue #{issue.number} in {issue.repo.full_name} has finished{detail}"


def rerun_hint(issue: IssueRef, *first: str) -> str:
    """The explicit ways to start a new run once one has finished; ``first`` come first."""
    ways = [
        *first,
        "comment /autopilot retry",
        f"run python -m starters.start_issue --repo {issue.repo.full_name} "
        f"--issue {issue.number} --rerun",
    ]
    return f"to start a new one, {', '.join(ways[:-1])} or {ways[-1]}"


async def latest_run(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The newest run with this workflow id; None when there never was one."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return None


async def latest_run_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The status of the newest run with this workflow id; None when there never was one."""
    described = await latest_run(client, workflow_id)
    return None if described is None else described.status


def parse_time(raw: object) -> datetime | None:
    """An RFC 3339 time from a payload (``...Z`` or with an offset); None when absent or bad."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def closed_before(previous: WorkflowExecutionDescription, moment: datetime | None) -> bool:
    """Whether the run ended before ``moment`` (a request made after it, or an issue created
    after it, so the run was for an earlier issue of the same number on a reset forge)."""
    if moment is None or previous.close_time is None:
        return False
    return previous.close_time < (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


async def mode_for_new_runs(client: Client) -> ModeState:
    """The deployment's mode; StarterError when it lets no new run start."""
    try:
        mode = await current_mode(client)
    except RPCError as err:  # the control workflow runs, but no worker answers for it
        raise StarterError(f"cannot read Autopilot's mode: {err.message}") from None
    if not mode.allows_stage():
        raise StarterError(f"no new runs start while Autopilot is in mode {mode.describe()}")
    return mode


async def start_issue_run(
    client: Client,
    config: AutopilotConfig,
    issue: IssueRef,
    *,
    rerun: bool = False,
    newer_than: datetime | None = None,
    gates: list[GateStage] | None = None,
) -> StartedRun:
    """Start the issue's run, or attach to the one running: never two at once.

    A finished run is followed by a new one only when ``rerun`` (an explicit request) or when
    it ended before ``newer_than`` (when the request was made, or the issue created); otherwise
    RunFinished. A re-fired trigger therefore never starts a second run. ``gates`` are the
    started run's own (a joined run keeps those it started with).
    """
    workflow_id = issue.workflow_id
    previous = await latest_run(client, workflow_id)
    if previous is not None and previous.status == WorkflowExecutionStatus.RUNNING:
        link = ui_link(config, workflow_id, previous.run_id)
        return StartedRun(workflow_id, previous.run_id, False, link)
    if previous is not None and not rerun and not closed_before(previous, newer_than):
        raise RunFinished(issue, previous)
    mode = await mode_for_new_runs(client)
    # A run started in another mode than normal hears it with its start.
    tell = mode.set_at is not None and mode.mode != "normal"
    try:
        started = await client.start_workflow(
            names.ISSUE_WORKFLOW,
            workflow_input(config, issue, gates),
            id=workflow_id,
            task_queue=config.temporal.task_queue,
            # Allowed to follow a finished run only when decided above; a run that started
            # and finished since we looked is not followed. A running one is joined.
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if previous is not None
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(names.SA_REPO, issue.repo.full_name),
                    SearchAttributePair(names.SA_ISSUE, issue.number),
                    SearchAttributePair(names.SA_STAGE, "intake"),
                    SearchAttributePair(names.SA_OUTCOME, "running"),
                ]
            ),
            memo={MEMO_ACTIVITY_QUEUES: activity_queues(config.temporal.task_queue)},
            start_signal=names.MODE_SIGNAL if tell else None,
            start_signal_args=[mode] if tell else [],
        )
    except WorkflowAlreadyStartedError:
        raise RunFinished(issue, await latest_run(client, workflow_id)) from None
    run_id = started.result_run_id or ""
    return StartedRun(workflow_id, run_id, True, ui_link(config, workflow_id, run_id or None))


async def resume_run(
    client: Client,
    issue: IssueRef,
    request: ResumeRequest,
    *,
    rpc_timeout: timedelta | None = None,
) -> None:
    """Send ``resume`` to the issue's run when it waits for one; StarterError saying why not.

    The workflow drops a ``resume`` it is not waiting for, so sending it blindly would report
    success for nothing. RPCError (Temporal unreachable, a stuck worker) is the caller's.
    """
    previous = await latest_run(client, issue.workflow_id)
    if previous is None:
        raise StarterError(f"no run for issue #{issue.number} in {issue.repo.full_name}")
    if previous.status != WorkflowExecutionStatus.RUNNING:
        raise RunFinished(issue, previous)
    handle = client.get_workflow_handle(issue.workflow_id, run_id=previous.run_id)
    status = await handle.query("status", result_type=IssueStatus, rpc_timeout=rpc_timeout)
    if status.waiting_for != "resume":
        now = f"waiting for {status.waiting_for}" if status.waiting_for else f"at {status.stage}"
        raise StarterError(
            f"the run for issue #{issue.number} is not waiting for resume (it is {now})"
        )
    await handle.signal("resume", request)


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
    flush_traces()
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio's Rust bridge can abort at interpreter exit; exit with our own status instead.
    os._exit(code)
