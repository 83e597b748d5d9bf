"""Gitea-shaped webhook payloads (gitea-notes §4), trimmed to what the receiver reads."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starters.webhook.signature import sign

REPO = "acme/app"
BOT = "autopilot-bot"
CROSS_REPO = "pair"  # the cross-repo workflow in conftest's configuration


def user(login: str) -> dict[str, Any]:
    return {"id": 1, "login": login, "username": login}


def label_event(
    labels: list[str], *, repo: str = REPO, number: int = 3, sender: str = "alice"
) -> dict[str, Any]:
    return {
        "action": "label_updated",
        "number": number,
        "issue": {
            "number": number,
            "labels": [{"id": i, "name": name} for i, name in enumerate(labels, 1)],
            "pull_request": None,
        },
        "repository": {"full_name": repo},
        "sender": user(sender),
        "commit_id": "",
    }


def comment_event(
    body: str, *, author: str = "alice", repo: str = REPO, number: int = 3, action: str = "created"
) -> dict[str, Any]:
    return {
        "action": action,
        "issue": {"number": number, "labels": [], "pull_request": None},
        "comment": {"id": 9, "body": body, "user": user(author)},
        "repository": {"full_name": repo},
        "sender": user(author),
        "is_pull": False,
    }


def delivery(
    event: str, payload: dict[str, Any], secret: str, delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Gitea sends for one signed delivery."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Gitea-Event": event,
        "X-Gitea-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Gitea-Signature": sign(secret.encode(), body),
    }
    return body, headers


def review_event(
    state: str = "REQUEST_CHANGES",
    *,
    head: str = "autopilot/issue-3",
    number: int = 12,
    sender: str = "alice",
    action: str = "reviewed",
) -> dict[str, Any]:
    """``pull_request_approved`` / ``_rejected`` / ``_comment``: a review on a PR."""
    return {
        "action": action,
        "number": number,
        "pull_request": {"number": number, "head": {"ref": head}, "base": {"ref": "main"}},
        "requested_reviewer": None,
        "repository": {"full_name": REPO},
        "sender": user(sender),
        "commit_id": "",
        "review": {"type": state, "content": "please rename"},
    }
