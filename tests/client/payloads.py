"""Gitea-shaped JSON bodies for tests that fake the HTTP boundary.

Shapes follow the spec definitions (checked in test_contract_requests.py with
``validate_response``), trimmed to the keys the client reads plus a few it ignores.
"""

from __future__ import annotations

import base64
from typing import Any

API = "http://forge.test/api/v1"


def user(login: str = "autopilot", user_id: int = 1) -> dict[str, Any]:
    return {"id": user_id, "login": login, "full_name": "", "email": f"{login}@example.com"}


def repo(owner: str = "acme", name: str = "app", *, archived: bool = False) -> dict[str, Any]:
    return {
        "id": 7,
        "name": name,
        "full_name": f"{owner}/{name}",
        "owner": user(owner, 2),
        "default_branch": "main",
        "private": False,
        "html_url": f"http://forge.test/{owner}/{name}",
        "clone_url": f"http://forge.test/{owner}/{name}.git",
        "archived": archived,
        "empty": False,
        "permissions": {"admin": True, "push": True, "pull": True},
    }


def branch(name: str = "main", sha: str = "a" * 40) -> dict[str, Any]:
    return {"name": name, "commit": {"id": sha, "message": "init\n"}, "protected": False}


def label(label_id: int, name: str, color: str = "5319e7") -> dict[str, Any]:
    return {
        "id": label_id,
        "name": name,
        "color": color,
        "description": "",
        "exclusive": False,
        "is_archived": False,
        "url": f"{API}/repos/acme/app/labels/{label_id}",
    }


def issue(
    number: int = 3, *, title: str = "Fix it", labels: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "id": 100 + number,
        "number": number,
        "title": title,
        "body": "details",
        "state": "open",
        "html_url": f"http://forge.test/acme/app/issues/{number}",
        "user": user("reporter", 3),
        "labels": labels or [],
        "milestone": None,
        "pull_request": None,
    }


def comment(comment_id: int, body: str) -> dict[str, Any]:
    return {
        "id": comment_id,
        "body": body,
        "html_url": f"http://forge.test/acme/app/issues/3#issuecomment-{comment_id}",
        "user": user(),
    }


def pull(
    number: int = 9,
    *,
    head: str = "autopilot/issue-3",
    base: str = "main",
    title: str = "Fix it",
    body: str = "",
) -> dict[str, Any]:
    return {
        "id": 200 + number,
        "number": number,
        "title": title,
        "body": body,
        "state": "open",
        "html_url": f"http://forge.test/acme/app/pulls/{number}",
        "draft": False,
        "mergeable": True,
        "merged": False,
        "merge_commit_sha": None,
        "head": {"label": head, "ref": head, "sha": "b" * 40, "repo_id": 7},
        "base": {"label": base, "ref": base, "sha": "a" * 40, "repo_id": 7},
        "user": user(),
    }


def review(review_id: int = 1, state: str = "APPROVED") -> dict[str, Any]:
    return {
        "id": review_id,
        "state": state,
        "body": "lgtm",
        "commit_id": "b" * 40,
        "stale": False,
        "official": True,
        "user": user("alice", 5),
    }


def review_comment(comment_id: int = 1, review_id: int = 1) -> dict[str, Any]:
    return {
        "id": comment_id,
        "body": "rename this",
        "path": "src/app.py",
        "position": 3,
        "original_position": 0,
        "commit_id": "b" * 40,
        "pull_request_review_id": review_id,
        "user": user("alice", 5),
    }


def status(status_id: int = 1, state: str = "success") -> dict[str, Any]:
    return {
        "id": status_id,
        "status": state,
        "context": "ci",
        "description": "",
        "target_url": "",
    }


def combined(state: str = "success") -> dict[str, Any]:
    return {"state": state, "sha": "b" * 40, "total_count": 1, "statuses": [status(1, state)]}


def contents(path: str = "README.md", text: str = "hello\n") -> dict[str, Any]:
    return {
        "type": "file",
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": "c" * 40,
        "size": len(text),
        "encoding": "base64",
        "content": base64.b64encode(text.encode()).decode(),
    }


def error(message: str) -> dict[str, Any]:
    return {"message": message, "url": "http://forge.test/api/swagger"}
