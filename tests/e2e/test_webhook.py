"""The webhook receiver as its own process on the real stack: signed label events start the run,
forged and replayed deliveries do nothing, and ``/autopilot approve`` from a writer approves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from devstack.forge.testing import free_port
from domain.run import IssueResult, IssueStatus
from tests.e2e.conftest import DEMO, Stack
from tests.e2e.test_issue_to_pull_request import wait_for_status
from tests.polling import eventually
from tests.webhook.payloads import delivery

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-secret"
READY_SECONDS = 30.0


@asynccontextmanager
async def receiver(stack: Stack) -> AsyncIterator[str]:
    """``python -m starters.webhook`` on a free loopback port; yields the hook URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], **stack.env, "AUTOPILOT_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "starters.webhook", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    async def healthz() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"the receiver exited: {proc.communicate()[1][-2000:]}")
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(f"{base}/healthz")).status_code
        except httpx.TransportError:  # not listening yet
            return None

    try:
        await eventually(
            healthz,
            lambda code: code == 200,
            timeout=READY_SECONDS,
            interval=0.1,
            what="the receiver answering /healthz",
        )
        yield f"{base}/hooks/gitea"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
        # The secret and the forge token never reach the logs.
        assert SECRET not in stderr and stack.forge.token not in stderr


async def post(
    url: str, event: str, payload: dict[str, Any], delivery_id: str | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    body, sent = delivery(event, payload, SECRET, delivery_id)
    sent.update(headers)
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(url, content=body, headers=sent)
    return resp.status_code, resp.json()


async def test_webhook_drives_an_issue_to_a_pull_request(stack: Stack) -> None:
    owner, name = stack.repo.split("/")
    api = f"/repos/{owner}/{name}"
    await stack.seeder.create_repo(name, DEMO / "repo")
    number = (await stack.seeder.open_issue(owner, name, DEMO / "issue.md"))["number"]
    await stack.seeder.add_label(owner, name, number, stack.config.trigger.label)
    # A webhook label event: the current labels, no `changes` (gitea-notes §4).
    label_event = {
        "action": "label_updated",
        "number": number,
        "issue": stack.forge.api("GET", f"{api}/issues/{number}"),
        "repository": stack.forge.api("GET", api),
        "sender": stack.forge.api("GET", "/user"),
        "commit_id": "",
    }
    workflow_id = f"autopilot:{stack.forge.base_url.split('//')[1]}:{owner}:{name}:{number}"
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)

    async with receiver(stack) as url:
        status, answer = await post(url, "issues", label_event, **{"X-Gitea-Signature": "0" * 64})
        assert (status, answer) == (401, {"message": "invalid signature"})
        with pytest.raises(RPCError) as nothing:
            await handle.describe()
        assert nothing.value.status == RPCStatusCode.NOT_FOUND

        status, answer = await post(url, "issues", label_event, delivery_id="label-1")
        assert (status, answer) == (200, {"status": "started", "workflow_id": workflow_id})
        await wait_for_status(stack, workflow_id, "approval")
        assert await post(url, "issues", label_event, delivery_id="label-1") == (
            200,
            {"status": "duplicate"},
        )

        # A read-only user's command is refused and changes nothing.
        stack.forge.api("POST", "/admin/users", {"username": "reader", "email": "r@example.com"})
        token = stack.forge.api(
            "POST", "/users/reader/tokens", {"name": "t", "scopes": ["write:issue"]}
        )["sha1"]
        status, answer = await post(url, "issue_comment", comment_event(stack, number, token))
        assert (status, answer["status"]) == (200, "refused")
        assert "reader needs write access" in answer["reason"]
        still = await handle.query("status", result_type=IssueStatus)
        assert still.waiting_for == "approval"

        status, answer = await post(
            url, "issue_comment", comment_event(stack, number, stack.forge.token)
        )
        assert (status, answer) == (200, {"status": "approved", "workflow_id": workflow_id})
        result = await handle.result()
        assert result.outcome == "pr_opened", result.status.error

        # The finished run's trigger label is still on the issue: no second run from it.
        status, answer = await post(url, "issues", label_event)
        assert (status, answer["status"]) == (200, "refused")
        assert "has finished" in answer["reason"]
    runs = [run async for run in stack.client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    assert len(runs) <= 1  # visibility may lag, but never shows a second run


def comment_event(stack: Stack, number: int, token: str) -> dict[str, Any]:
    """Post ``/autopilot approve`` as the token's user; the issue_comment payload for it."""
    owner, name = stack.repo.split("/")
    api = f"/repos/{owner}/{name}"
    comment = stack.forge.api(
        "POST", f"{api}/issues/{number}/comments", {"body": "/autopilot approve"}, token=token
    )
    return {
        "action": "created",
        "issue": stack.forge.api("GET", f"{api}/issues/{number}"),
        "comment": comment,
        "repository": stack.forge.api("GET", api),
        "sender": stack.forge.api("GET", "/user", token=token),
        "is_pull": False,
    }
