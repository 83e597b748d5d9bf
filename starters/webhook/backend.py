"""The receiver's side effects: Temporal starts, Updates, signals and forge permission checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from config.settings import AutopilotConfig
from domain.cross_repo import cross_repo_workflow_id
from domain.issue import IssueRef
from domain.run import ApprovalDecision, IssueStatus, ResumeRequest
from starters.common import StarterError, latest_run_status, start_issue_run
from starters.cross_repo import start_cross_repo_run

# Gitea's webhook delivery times out after a few seconds; never wait longer on a stuck worker.
QUERY_TIMEOUT = timedelta(seconds=5)


class Refused(Exception):
    """The request was understood and turned down; the reason is safe to answer with."""


class Unavailable(Exception):
    """Temporal or the forge could not be reached; Gitea should see a failed delivery."""


class Backend(Protocol):
    async def start(self, issue: IssueRef) -> str: ...
    async def start_cross_repo(self, workflow: str, trigger: IssueRef) -> str: ...
    async def can_write(self, issue: IssueRef, login: str) -> bool: ...
    async def decide(self, issue: IssueRef, decision: ApprovalDecision) -> str: ...
    async def resume(self, issue: IssueRef, request: ResumeRequest) -> None: ...


class TemporalBackend:
    def __init__(self, client: Client, config: AutopilotConfig, forge: GiteaClient) -> None:
        self._client = client
        self._config = config
        self._forge = forge

    async def start(self, issue: IssueRef) -> str:
        """ "started" or "already running"; Refused once the issue's run has finished.

        The trigger label stays on the issue after its run, and webhook label events do not
        say which label was added: any later label change would look like a new trigger.
        """
        try:
            status = await latest_run_status(self._client, issue.workflow_id)
            if status is not None and status != WorkflowExecutionStatus.RUNNING:
                raise Refused(
                    f"the run for issue #{issue.number} has finished; start a new one with "
                    "python -m starters.start_issue"
                )
            run = await start_issue_run(self._client, self._config, issue)
        except RPCError as err:
            raise Unavailable(f"Temporal refused the start: {err.message}") from None
        return "started" if run.started else "already running"

    async def start_cross_repo(self, workflow: str, trigger: IssueRef) -> str:
        """Like :meth:`start`, for the cross-repo change ``workflow`` triggered by an issue."""
        workflow_id = cross_repo_workflow_id(workflow, trigger)
        try:
            status = await latest_run_status(self._client, workflow_id)
            if status is not None and status != WorkflowExecutionStatus.RUNNING:
                raise Refused(
                    f"the cross-repo change {workflow!r} for issue #{trigger.number} has "
                    "finished; start a new one with python -m starters.cross_repo"
                )
            run = await start_cross_repo_run(self._client, self._config, workflow, trigger)
        except StarterError as problem:
            raise Refused(str(problem)) from None
        except RPCError as err:
            raise Unavailable(f"Temporal refused the start: {err.message}") from None
        return "started" if run.started else "already running"

    async def can_write(self, issue: IssueRef, login: str) -> bool:
        repo = issue.repo
        try:
            permission = await self._forge.get_permission(repo.owner, repo.name, login)
        except GiteaError as err:
            if err.status == 404:
                return False
            if err.status == 403:
                raise Refused(
                    "Autopilot's forge user may not read permissions here; make it an admin "
                    f"of {repo.full_name}"
                ) from None
            raise Unavailable(
                f"the forge did not answer the permission check: {err.message}"
            ) from None
        return permission.can_write

    async def decide(self, issue: IssueRef, decision: ApprovalDecision) -> str:
        handle = self._client.get_workflow_handle(issue.workflow_id)
        try:
            answer: str = await handle.execute_update("approve", decision, result_type=str)
        except WorkflowUpdateFailedError as err:
            reason = err.cause.message if hasattr(err.cause, "message") else str(err.cause)
            raise Refused(f"decision refused: {reason}") from None
        except RPCError as err:
            raise self._rpc_problem(err, issue) from None
        return answer

    async def resume(self, issue: IssueRef, request: ResumeRequest) -> None:
        handle = self._client.get_workflow_handle(issue.workflow_id)
        try:
            # The workflow drops a resume it is not waiting for; say so instead of "sent".
            status = await handle.query(
                "status", result_type=IssueStatus, rpc_timeout=QUERY_TIMEOUT
            )
            if status.waiting_for != "resume":
                raise Refused(f"the run for issue #{issue.number} is not waiting for resume")
            await handle.signal("resume", request)
        except RPCError as err:
            raise self._rpc_problem(err, issue) from None

    @staticmethod
    def _rpc_problem(err: RPCError, issue: IssueRef) -> Exception:
        if err.status == RPCStatusCode.NOT_FOUND:
            return Refused(f"no running run for issue #{issue.number}")
        return Unavailable(f"Temporal refused: {err.message}")
