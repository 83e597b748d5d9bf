"""The HTTP side of the receiver, with Temporal and the forge faked behind ``Backend``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import AutopilotConfig
from domain.issue import IssueRef
from domain.run import ApprovalDecision, ResumeRequest
from starters.webhook.app import Receiver, create_app
from starters.webhook.backend import Refused, Unavailable
from starters.webhook.signature import sign
from tests.webhook.payloads import (
    BOT,
    CROSS_REPO,
    comment_event,
    delivery,
    label_event,
    review_event,
)

SECRET = "s3cret-webhook-key"


@dataclass
class FakeBackend:
    writers: set[str] = field(default_factory=lambda: {"alice"})
    calls: list[tuple[str, Any]] = field(default_factory=list)
    refuse: str | None = None
    down: bool = False
    replies: list[tuple[int, int, str]] = field(default_factory=list)  # (issue, comment, body)
    forge_down: bool = False

    async def start(self, issue: IssueRef, created: datetime | None = None) -> str:
        self._call("start", issue.number)
        return "started"

    async def start_cross_repo(self, workflow: str, trigger: IssueRef) -> str:
        self._call("start_cross_repo", (workflow, trigger.repo.full_name, trigger.number))
        return "started"

    async def can_write(self, issue: IssueRef, login: str) -> bool:
        return login in self.writers

    async def decide(self, issue: IssueRef, decision: ApprovalDecision) -> str:
        self._call("decide", decision)
        return "approved" if decision.approved else "rejected; re-planning with the feedback"

    async def resume(self, issue: IssueRef, request: ResumeRequest) -> None:
        self._call("resume", request)

    async def retry(self, issue: IssueRef, request: ResumeRequest) -> str:
        self._call("retry", request)
        return "restarted"

    async def reply(self, issue: IssueRef, comment_id: int, body: str) -> None:
        if self.forge_down:
            raise Unavailable("the forge did not take the reply")
        if all(comment_id != replied for _, replied, _ in self.replies):
            self.replies.append((issue.number, comment_id, body))

    async def notify(self, pull: IssueRef, branch: str) -> str:
        self._call("notify", (pull.number, branch))
        return f"run-of-{branch}"

    def _call(self, what: str, arg: Any) -> None:
        if self.down:
            raise Unavailable("Temporal is down")
        if self.refuse:
            raise Refused(self.refuse)
        self.calls.append((what, arg))


@dataclass
class Hook:
    http: TestClient[Any, Any]
    backend: FakeBackend
    receiver: Receiver

    async def post(
        self, event: str, payload: dict[str, Any], **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        body, headers = delivery(event, payload, SECRET, kw.pop("delivery_id", None))
        headers.update(kw.pop("headers", {}))
        resp = await self.http.post("/hooks/gitea", data=kw.pop("body", body), headers=headers)
        return resp.status, await resp.json()


@pytest.fixture
async def hook(config: AutopilotConfig) -> AsyncIterator[Hook]:
    backend = FakeBackend()
    receiver = Receiver(config, SECRET, backend, BOT)
    async with TestClient(TestServer(create_app(receiver))) as http:
        yield Hook(http, backend, receiver)


async def test_signed_trigger_label_starts_a_run(hook: Hook) -> None:
    status, answer = await hook.post("issues", label_event(["autopilot"]))
    assert (status, answer["status"]) == (200, "started")
    assert answer["workflow_id"].endswith(":acme:app:3")
    assert hook.backend.calls == [("start", 3)]


async def test_cross_repo_label_starts_the_cross_repo_change(hook: Hook) -> None:
    status, answer = await hook.post("issues", label_event(["autopilot", "autopilot:pair"]))
    assert (status, answer["status"]) == (200, "started")
    assert answer["workflow_id"].startswith(f"autopilot-cross:{CROSS_REPO}:")
    assert answer["workflow_id"].endswith(":acme:app:3")
    assert hook.backend.calls == [("start_cross_repo", (CROSS_REPO, "acme/app", 3))]


async def test_refused_cross_repo_start_answers_the_reason(hook: Hook) -> None:
    hook.backend.refuse = "the cross-repo change 'pair' for issue #3 has finished"
    status, answer = await hook.post("issues", label_event(["autopilot:pair"]))
    assert (status, answer["status"]) == (200, "refused")
    assert "has finished" in answer["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Gitea-Signature": "0" * 64},
        {"X-Gitea-Signature": ""},
        {"X-Gitea-Signature": "not hex at all"},
    ],
)
async def test_forged_deliveries_are_401_and_do_nothing(
    hook: Hook, headers: dict[str, str]
) -> None:
    status, answer = await hook.post("issues", label_event(["autopilot"]), headers=headers)
    assert (status, answer) == (401, {"message": "invalid signature"})
    assert hook.backend.calls == []
    assert hook.receiver.counts["invalid_signature"] == 1


async def test_missing_signature_header_is_401(hook: Hook) -> None:
    body, headers = delivery("issues", label_event(["autopilot"]), SECRET)
    del headers["X-Gitea-Signature"]
    resp = await hook.http.post("/hooks/gitea", data=body, headers=headers)
    assert resp.status == 401 and hook.backend.calls == []


async def test_body_altered_after_signing_is_401(hook: Hook) -> None:
    body, headers = delivery("issues", label_event(["autopilot"], number=3), SECRET)
    altered = body.replace(b'"number": 3', b'"number": 4')
    assert len(altered) == len(body) and altered != body
    resp = await hook.http.post("/hooks/gitea", data=altered, headers=headers)
    assert resp.status == 401 and hook.backend.calls == []


async def test_replayed_delivery_is_answered_and_ignored(hook: Hook) -> None:
    event = comment_event("/autopilot approve")
    assert (await hook.post("issue_comment", event, delivery_id="d-1"))[1]["status"] == "approved"
    status, answer = await hook.post("issue_comment", event, delivery_id="d-1")
    assert (status, answer) == (200, {"status": "duplicate"})
    assert len(hook.backend.calls) == 1
    assert hook.receiver.counts["duplicate"] == 1


async def test_a_failed_delivery_can_be_redelivered(hook: Hook) -> None:
    hook.backend.down = True
    status, answer = await hook.post("issues", label_event(["autopilot"]), delivery_id="d-2")
    assert status == 503 and "Temporal is down" in answer["message"]
    hook.backend.down = False
    status, answer = await hook.post("issues", label_event(["autopilot"]), delivery_id="d-2")
    assert (status, answer["status"]) == (200, "started")


async def test_commands_from_writers_reach_the_run(hook: Hook) -> None:
    await hook.post("issue_comment", comment_event("/autopilot approve"))
    await hook.post("issue_comment", comment_event("/autopilot reject split task 2"))
    await hook.post("issue_comment", comment_event("/autopilot resume use Decimal"))
    await hook.post("issue_comment", comment_event("/autopilot retry"))
    assert hook.backend.calls == [
        ("decide", ApprovalDecision(approver="alice", approved=True, via="comment", comment_id=9)),
        (
            "decide",
            ApprovalDecision(
                approver="alice",
                approved=False,
                feedback="split task 2",
                via="comment",
                comment_id=9,
            ),
        ),
        ("resume", ResumeRequest(by="alice", guidance="use Decimal")),
        ("retry", ResumeRequest(by="alice", guidance="")),
    ]
    assert hook.backend.replies == []


async def test_retry_answers_what_it_did(hook: Hook) -> None:
    status, answer = await hook.post("issue_comment", comment_event("/autopilot retry"))
    assert (status, answer["status"]) == (200, "restarted")


async def test_commands_from_readers_are_refused(hook: Hook) -> None:
    status, answer = await hook.post(
        "issue_comment", comment_event("/autopilot approve", author="eve")
    )
    assert (status, answer["status"], answer["replied"]) == (200, "refused", True)
    assert "eve needs write access to acme/app" in answer["reason"]
    assert hook.backend.calls == []
    [(number, comment_id, body)] = hook.backend.replies
    assert (number, comment_id) == (3, 9)
    assert body.startswith("@eve Autopilot did not carry out `/autopilot approve`: ")
    assert "eve needs write access to acme/app" in body


async def test_refused_decision_answers_the_reason(hook: Hook) -> None:
    hook.backend.refuse = "decision refused: no plan is waiting for approval"
    status, answer = await hook.post("issue_comment", comment_event("/autopilot approve"))
    assert (status, answer) == (
        200,
        {
            "status": "refused",
            "reason": "decision refused: no plan is waiting for approval",
            "replied": True,
        },
    )
    [(_, _, body)] = hook.backend.replies
    assert body.endswith("decision refused: no plan is waiting for approval")


async def test_an_unknown_command_gets_a_reply(hook: Hook) -> None:
    status, answer = await hook.post("issue_comment", comment_event("/autopilot merge"))
    assert (status, answer["status"]) == (200, "refused")
    [(_, _, body)] = hook.backend.replies
    assert body.startswith("@alice Autopilot did not carry out your `/autopilot` command: ")
    assert "unknown command 'merge'; use one of: approve, reject, resume, retry" in body


async def test_a_redelivered_refusal_is_answered_once(hook: Hook) -> None:
    hook.backend.refuse = "the run for issue #3 has finished"
    for delivery_id in ("d-3", "d-4"):  # Gitea's redelivery button sends a new delivery id
        await hook.post(
            "issue_comment", comment_event("/autopilot resume"), delivery_id=delivery_id
        )
    assert len(hook.backend.replies) == 1


async def test_a_reply_the_forge_does_not_take_fails_the_delivery(hook: Hook) -> None:
    hook.backend.refuse = "decision refused: no plan is waiting for approval"
    hook.backend.forge_down = True
    body = comment_event("/autopilot approve")
    status, answer = await hook.post("issue_comment", body, delivery_id="d-5")
    assert status == 503 and "reply" in answer["message"]
    hook.backend.forge_down = False
    status, answer = await hook.post("issue_comment", body, delivery_id="d-5")
    assert (status, answer["replied"]) == (200, True)


async def test_refused_starts_get_no_reply(hook: Hook) -> None:
    hook.backend.refuse = "the run for issue #3 has finished"
    status, answer = await hook.post("issues", label_event(["autopilot"]))
    assert (status, answer["status"]) == (200, "refused") and "replied" not in answer
    assert hook.backend.replies == []


async def test_ignored_events_and_bad_bodies(hook: Hook) -> None:
    status, answer = await hook.post("issues", label_event(["autopilot"], repo="x/y"))
    assert (status, answer["status"]) == (200, "ignored") and "not configured" in answer["reason"]
    status, answer = await hook.post("push", {"ref": "refs/heads/main"})
    assert (status, answer["status"]) == (200, "ignored")
    not_json = b"{nope"
    _, headers = delivery("issues", {}, SECRET)
    headers["X-Gitea-Signature"] = sign(SECRET.encode(), not_json)
    resp = await hook.http.post("/hooks/gitea", data=not_json, headers=headers)
    assert resp.status == 400
    assert hook.backend.calls == []


async def test_a_signed_deeply_nested_body_is_400_and_stays_delivered(hook: Hook) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    _, headers = delivery("issues", {}, SECRET, "d-deep")
    headers["X-Gitea-Signature"] = sign(SECRET.encode(), nested)
    resp = await hook.http.post("/hooks/gitea", data=nested, headers=headers)
    assert resp.status == 400 and "nested" in (await resp.json())["reason"]
    again = await hook.http.post("/hooks/gitea", data=nested, headers=headers)
    assert (again.status, await again.json()) == (200, {"status": "duplicate"})
    assert hook.backend.calls == []


async def test_health_reports_counters(hook: Hook) -> None:
    await hook.post("issues", label_event(["autopilot"]), headers={"X-Gitea-Signature": "bad"})
    await hook.post("issues", label_event(["autopilot"]))
    counts = (await (await hook.http.get("/healthz")).json())["counts"]
    assert counts == {"invalid_signature": 1, "start": 1}


async def test_a_review_on_a_pull_request_wakes_the_run_watching_it(hook: Hook) -> None:
    status, answer = await hook.post("pull_request_rejected", review_event())
    assert (status, answer["status"]) == (200, "notified")
    assert hook.backend.calls == [("notify", (12, "autopilot/issue-3"))]
    assert hook.receiver.counts["pull"] == 1


async def test_a_pull_request_nobody_watches_is_ignored(hook: Hook) -> None:
    hook.backend.refuse = "no running run for issue #3"
    status, answer = await hook.post("pull_request_approved", review_event("APPROVED"))
    assert (status, answer) == (200, {"status": "ignored", "reason": "no running run for issue #3"})
