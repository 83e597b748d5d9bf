"""The receiver's side effects: Temporal starts, Updates, signals, forge permission checks and
replies to refused comment commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.forge.activities import carries_marker, with_marker
from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from config.settings import AutopilotConfig
from domain.cross_repo import cross_repo_workflow_id
from domain.issue import IssueRef, issue_of_branch
from domain.names import PR_EVENT_SIGNAL
from domain.run import ApprovalDecision, ResumeRequest
from starters.common import (
    RunFinished,
    StarterError,
    finished_line,
    latest_run,
    latest_run_status,
    resume_run,
    start_issue_run,
)
from starters.cross_repo import start_cross_repo_run

# Gitea's webhook delivery times out after a few seconds; never wait longer on a stuck worker.
QUERY_TIMEOUT = timedelta(seconds=5)


class Refused(Exception):
    """The request was understood and turned down; the reason is safe to answer with."""


class Unavailable(Exception):
    """Temporal or the forge could not be reached; Gitea should see a failed delivery."""


class Backend(Protocol):
    async def start(self, issue: IssueRef, created: datetime | None = None) -> str: ...
    async def start_cross_repo(self, workflow: str, trigger: IssueRef) -> str: ...
    async def can_write(self, issue: IssueRef, login: str) -> bool: ...
    async def decide(self, issue: IssueRef, decision: ApprovalDecision) -> str: ...
    async def resume(self, issue: IssueRef, request: ResumeRequest) -> None: ...
    async def retry(self, issue: IssueRef, request: ResumeRequest) -> str: ...
    async def reply(self, issue: IssueRef, comment_id: int, body: str) -> None: ...
    async def notify(self, pull: IssueRef, branch: str) -> str: ...


class TemporalBackend:
    def __init__(self, client: Client, config: AutopilotConfig, forge: GiteaClient) -> None:
        self._client = client
        self._config = config
        self._forge = forge

    async def start(self, issue: IssueRef, created: datetime | None = None) -> str:
        """ "started" or "already running"; Refused once the issue's run has finished.

        The trigger label stays on the issue after its run, and webhook label events do not
        say which label was added: any later label change (or a redelivery) would look like a
        new trigger, so only an explicit request (``/autopilot retry``, ``start_issue
        --rerun``) starts another. ``created`` (the issue's creation) tells apart a run of an
        earlier issue with this number, on a forge that was reset.
        """
        try:
            run = await start_issue_run(self._client, self._config, issue, newer_than=created)
        except RunFinished as finished:
            raise Refused(str(finished)) from None
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
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._not_running(issue) from None
            raise self._rpc_problem(err, issue) from None
        return answer

    async def resume(self, issue: IssueRef, request: ResumeRequest) -> None:
        try:
            # The workflow drops a resume it is not waiting for; say so instead of "sent".
            await resume_run(self._client, issue, request, rpc_timeout=QUERY_TIMEOUT)
        except StarterError as problem:
            raise Refused(str(problem)) from None
        except RPCError as err:
            raise self._rpc_problem(err, issue) from None

    async def retry(self, issue: IssueRef, request: ResumeRequest) -> str:
        """``/autopilot retry``: "resumed" for a run waiting for a person, "restarted" (a new
        run) once it has finished; Refused when there is no run or it is not waiting."""
        try:
            previous = await latest_run(self._client, issue.workflow_id)
            if previous is None:
                label = self._config.trigger.label
                raise Refused(
                    f"there is no run for issue #{issue.number} to retry; "
                    f"add the label {label!r} to start one"
                )
            if previous.status == WorkflowExecutionStatus.RUNNING:
                await self.resume(issue, request)
                return "resumed"
            run = await start_issue_run(self._client, self._config, issue, rerun=True)
        except RPCError as err:
            raise self._rpc_problem(err, issue) from None
        return "restarted" if run.started else "already running"

    async def reply(self, issue: IssueRef, comment_id: int, body: str) -> None:
        """Answer a comment on its issue once: a redelivery finds the earlier answer by the
        hidden marker tied to the comment's id."""
        repo, marker = issue.repo, f"reply-{comment_id}"
        try:
            for comment in await self._forge.list_comments(repo.owner, repo.name, issue.number):
                if carries_marker(comment.body, marker):
                    return
            text = with_marker(body, marker)
            await self._forge.create_comment(repo.owner, repo.name, issue.number, text)
        except GiteaError as err:
            raise Unavailable(f"the forge did not take the reply: {err.message}") from None

    async def notify(self, pull: IssueRef, branch: str) -> str:
        """Wake the run watching PR ``pull`` (head ``branch``, read from the forge when ""):
        its workflow id; Refused when the PR is not Autopilot's or no run watches it."""
        repo = pull.repo
        if not branch:
            try:
                branch = (await self._forge.get_pull(repo.owner, repo.name, pull.number)).head.ref
            except GiteaError as err:
                if err.status == 404:
                    raise Refused(f"no pull request #{pull.number} in {repo.full_name}") from None
                raise Unavailable(f"the forge did not answer: {err.message}") from None
        number = issue_of_branch(branch)
        if number is None:
            raise Refused(f"#{pull.number} is not a pull request of an Autopilot run")
        issue = IssueRef(repo=repo, number=number)
        handle = self._client.get_workflow_handle(issue.workflow_id)
        try:
            await handle.signal(PR_EVENT_SIGNAL, {"pull": pull.number}, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            raise self._rpc_problem(err, issue) from None
        return issue.workflow_id

    async def _not_running(self, issue: IssueRef) -> Exception:
        """Why the issue's run cannot take a request: it has finished, or there never was one."""
        try:
            previous = await latest_run(self._client, issue.workflow_id)
        except RPCError as err:
            return Unavailable(f"Temporal refused: {err.message}")
        if previous is None or previous.status == WorkflowExecutionStatus.RUNNING:
            return Refused(f"no running run for issue #{issue.number}")
        return Refused(finished_line(issue, previous))

    @staticmethod
    def _rpc_problem(err: RPCError, issue: IssueRef) -> Exception:
        if err.status == RPCStatusCode.NOT_FOUND:
            return Refused(f"no running run for issue #{issue.number}")
        return Unavailable(f"Temporal refused: {err.message}")
