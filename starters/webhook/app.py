"""The aiohttp application: ``POST /hooks/gitea`` and ``GET /healthz``.

Every delivery is checked in this order: signature over the raw body (before any parsing),
delivery id (replays are answered and dropped), then routing. Bodies are never logged.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import structlog
from aiohttp import web

from config.settings import AutopilotConfig
from domain.cross_repo import cross_repo_workflow_id
from domain.issue import IssueRef
from domain.run import ApprovalDecision, ResumeRequest
from starters.common import StarterError, issue_ref
from starters.webhook.backend import Backend, Refused, Unavailable
from starters.webhook.deliveries import RecentDeliveries
from starters.webhook.routing import (
    Ignore,
    PullActivity,
    RefuseCommand,
    Route,
    RunCommand,
    StartRun,
    route,
)
from starters.webhook.signature import verify

HOOK_PATH = "/hooks/gitea"
SIGNATURE_HEADER = "X-Gitea-Signature"
DELIVERY_HEADER = "X-Gitea-Delivery"
EVENT_HEADER = "X-Gitea-Event"
MAX_BODY_BYTES = 5 * 1024 * 1024

ROUTE_COUNTERS: dict[type, str] = {
    Ignore: "ignored",
    StartRun: "start",
    RunCommand: "command",
    RefuseCommand: "command",
    PullActivity: "pull",
}

log = structlog.get_logger("autopilot.webhook")


class Receiver:
    """The state one receiver process keeps: secret, recent deliveries and counters."""

    def __init__(
        self, config: AutopilotConfig, secret: str, backend: Backend, bot_login: str
    ) -> None:
        self.config = config
        self.backend = backend
        self.bot_login = bot_login
        self.deliveries = RecentDeliveries()
        self.counts: Counter[str] = Counter()
        self._secret = secret.encode()

    def count(self, what: str) -> int:
        self.counts[what] += 1
        return self.counts[what]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(self._secret, body, request.headers.get(SIGNATURE_HEADER)):
            total = self.count("invalid_signature")
            log.warning("webhook.invalid_signature", remote=request.remote, total=total)
            return web.json_response({"message": "invalid signature"}, status=401)
        delivery = request.headers.get(DELIVERY_HEADER, "")
        if delivery and not self.deliveries.claim(delivery):
            log.info("webhook.duplicate", delivery=delivery, total=self.count("duplicate"))
            return web.json_response({"status": "duplicate"})
        try:
            answer, status = await self._dispatch(request.headers.get(EVENT_HEADER, ""), body)
        except Exception:
            if delivery:
                self.deliveries.release(delivery)  # let Gitea's redelivery be processed
            raise
        if status >= 500 and delivery:
            self.deliveries.release(delivery)
        log.info("webhook.handled", delivery=delivery, http_status=status, **answer)
        return web.json_response(answer, status=status)

    async def _dispatch(self, event: str, body: bytes) -> tuple[dict[str, Any], int]:
        try:
            payload = json.loads(body)
        except ValueError:
            return {"status": "ignored", "reason": "the body is not JSON"}, 400
        except RecursionError:
            # Signed but nested past the parser's depth: bad input, not our failure, so the
            # delivery id stays claimed and a redelivery is answered as a duplicate.
            return {"status": "ignored", "reason": "the JSON body is nested too deeply"}, 400
        if not isinstance(payload, dict):
            return {"status": "ignored", "reason": "the body is not a JSON object"}, 400
        target = route(event, payload, self.config, self.bot_login)
        self.count(ROUTE_COUNTERS[type(target)])
        try:
            return await self._answer(target), 200
        except Unavailable as problem:
            log.error("webhook.unavailable", problem=str(problem))
            return {"message": str(problem)}, 503

    async def _answer(self, target: Route) -> dict[str, Any]:
        try:
            if isinstance(target, Ignore):
                return {"status": "ignored", "reason": target.reason}
            if isinstance(target, StartRun):
                return await self._start(target)
            if isinstance(target, PullActivity):
                return await self._notify(target)
            if isinstance(target, RefuseCommand):
                raise Refused(target.reason)
            return await self._command(target)
        except Refused as refused:
            answer: dict[str, Any] = {"status": "refused", "reason": str(refused)}
            if isinstance(target, RunCommand | RefuseCommand) and target.comment_id:
                # A person asked: the refusal is answered where they asked.
                await self._reply(target, str(refused))
                answer["replied"] = True
            return answer

    async def _start(self, target: StartRun) -> dict[str, Any]:
        issue = self._issue(target.repo, target.number)
        if target.cross_repo is not None:
            outcome = await self.backend.start_cross_repo(target.cross_repo, issue)
            workflow_id = cross_repo_workflow_id(target.cross_repo, issue)
            return {"status": outcome, "workflow_id": workflow_id}
        outcome = await self.backend.start(issue, target.created)
        return {"status": outcome, "workflow_id": issue.workflow_id}

    async def _notify(self, target: PullActivity) -> dict[str, Any]:
        """A review or comment on a PR: the run watching it reads the forge at once."""
        pull = self._issue(target.repo, target.pull)
        try:
            workflow_id = await self.backend.notify(pull, target.branch)
        except Refused as nobody:
            return {"status": "ignored", "reason": str(nobody)}
        return {"status": "notified", "workflow_id": workflow_id}

    async def _command(self, target: RunCommand) -> dict[str, Any]:
        issue = self._issue(target.repo, target.number)
        if not await self.backend.can_write(issue, target.author):
            raise Refused(f"{target.author} needs write access to {target.repo} to do that")
        command = target.command
        request = ResumeRequest(by=target.author, guidance=command.text)
        if command.verb == "resume":
            await self.backend.resume(issue, request)
            return {"status": "resumed", "workflow_id": issue.workflow_id}
        if command.verb == "retry":
            outcome = await self.backend.retry(issue, request)
            return {"status": outcome, "workflow_id": issue.workflow_id}
        decision = ApprovalDecision(
            approver=target.author,
            approved=command.verb == "approve",
            feedback=command.text,
            via="comment",  # the run checks this comment on the forge before it counts
            comment_id=target.comment_id,
        )
        answer = await self.backend.decide(issue, decision)
        return {"status": answer, "workflow_id": issue.workflow_id}

    async def _reply(self, target: RunCommand | RefuseCommand, reason: str) -> None:
        """One comment on the issue naming the reason, tied to the command's comment id."""
        asked = "your `/autopilot` command"
        if isinstance(target, RunCommand):
            asked = f"`/autopilot {target.command.verb}`"
        body = f"@{target.author} Autopilot did not carry out {asked}: {reason}"
        try:
            issue = self._issue(target.repo, target.number)
        except Refused:
            return  # routing only sends configured repositories; nothing to answer on
        await self.backend.reply(issue, target.comment_id, body)

    def _issue(self, repo: str, number: int) -> IssueRef:
        try:
            return issue_ref(self.config, repo, number)
        except StarterError as problem:
            raise Refused(str(problem)) from None

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "counts": dict(self.counts)})


def create_app(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(HOOK_PATH, receiver.handle)
    app.router.add_get("/healthz", receiver.health)
    return app
