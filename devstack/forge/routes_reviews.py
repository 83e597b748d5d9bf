"""Pull request reviews and their line comments (Gitea's ``repo/pull_review.go``).

A review is ``stale`` once the PR's head moved past the commit it was given on, as Gitea marks
reviews on every push; it is ``official`` when the reviewer may write to the repository.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import issue_html, user_json
from devstack.forge.respond import (
    ApiError,
    NotFound,
    json_response,
    opt_list,
    opt_str,
    page_args,
    path_int,
    read_json,
)
from devstack.forge.routes_collaborators import access_mode
from devstack.forge.routes_pulls import PULL, head_sha, pull_issue
from devstack.forge.store import Row, now

routes = web.RouteTableDef()

REVIEW_EVENTS = ("APPROVED", "REQUEST_CHANGES", "COMMENT", "PENDING")
WRITE_MODES = ("write", "admin", "owner")


def review_json(access: RepoAccess, issue: Row, review: Row, head: str) -> dict[str, Any]:
    html = issue_html(access, issue)
    reviewer = access.forge.store.user(review["user_id"])
    is_writer = access_mode(access, reviewer) in WRITE_MODES
    return {
        "id": review["id"],
        "user": user_json(access.forge, reviewer),
        "team": None,
        "state": review["state"],
        "body": review["body"],
        "commit_id": review["commit_id"],
        "stale": bool(head) and review["commit_id"] != head,
        "official": is_writer and review["state"] in ("APPROVED", "REQUEST_CHANGES"),
        "dismissed": False,
        "comments_count": review["comments_count"],
        "submitted_at": review["submitted"],
        "updated_at": review["submitted"],
        "html_url": f"{html}#issuecomment-{review['id']}",
        "pull_request_url": html,
    }


def review_comment_json(
    access: RepoAccess, issue: Row, review: Row, comment: Row
) -> dict[str, Any]:
    html = issue_html(access, issue)
    return {
        "id": comment["id"],
        "body": comment["body"],
        "user": user_json(access.forge, access.forge.store.user(comment["user_id"])),
        "resolver": None,
        "pull_request_review_id": review["id"],
        "created_at": comment["created"],
        "updated_at": comment["created"],
        "path": comment["path"],
        "commit_id": comment["commit_id"],
        "original_commit_id": comment["commit_id"],
        "diff_hunk": "",
        "position": comment["new_line"],
        "original_position": comment["old_line"],
        "html_url": f"{html}#issuecomment-{comment['id']}",
        "pull_request_url": html,
    }


@routes.get(PULL + "/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    access = repo_access(request)
    issue, pull = pull_issue(access, request)
    head = await head_sha(access, issue, pull)
    rows = access.forge.store.reviews(issue["id"])
    page, limit = page_args(request)
    rows = rows[(page - 1) * limit : page * limit]
    return json_response([review_json(access, issue, r, head) for r in rows])


def _line_comments(body: dict[str, Any]) -> list[dict[str, Any]]:
    comments = opt_list(body, "comments") or []
    if not all(isinstance(c, dict) for c in comments):
        raise ApiError(422, "[Comments]: each comment must be an object")
    return comments


@routes.post(PULL + "/reviews")
async def create_review(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    issue, pull = pull_issue(access, request)
    access.require_not_archived()
    body = await read_json(request)
    event = (opt_str(body, "event") or "PENDING").upper()
    if event not in REVIEW_EVENTS:
        raise ApiError(422, f"unknown review event {event!r}")
    text = opt_str(body, "body", "") or ""
    comments = _line_comments(body)
    if event in ("REQUEST_CHANGES", "COMMENT") and not text.strip() and not comments:
        raise ApiError(422, f"review event {event} requires a body or comments")
    if issue["user_id"] == user["id"] and event in ("APPROVED", "REQUEST_CHANGES"):
        verb = "approve" if event == "APPROVED" else "reject"
        raise ApiError(422, f"{verb} your own pull is not allowed")
    head = await head_sha(access, issue, pull)
    commit_id = opt_str(body, "commit_id") or head
    review = access.forge.store.create_review(
        issue["id"], user["id"], event, text, commit_id, comments, now()
    )
    return json_response(review_json(access, issue, review, head), status=200)  # sic: 200


@routes.get(PULL + "/reviews/{id}/comments")
async def list_review_comments(request: web.Request) -> web.Response:
    access = repo_access(request)
    issue, _ = pull_issue(access, request)
    review_id = path_int(request, "id")
    review = access.forge.store.review(review_id)
    if review is None or review["issue_id"] != issue["id"]:
        raise NotFound(f"pull review does not exist [id: {review_id}]")
    rows = access.forge.store.review_comments(review_id)
    return json_response([review_comment_json(access, issue, review, c) for c in rows])
