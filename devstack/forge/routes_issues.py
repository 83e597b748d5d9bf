"""Issues and their comments (pull requests are issues too and share these routes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import comment_json, issue_json
from devstack.forge.respond import (
    ApiError,
    NotFound,
    empty,
    json_response,
    opt_bool,
    opt_list,
    opt_str,
    paginate,
    path_int,
    read_json,
    req_str,
)
from devstack.forge.routes_labels import issue_of
from devstack.forge.store import Row

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"


@routes.get(REPO + "/issues")
async def list_issues(request: web.Request) -> web.Response:
    access = repo_access(request)
    query = request.query
    state = query.get("state", "open")
    state = state if state in ("open", "closed", "all") else "open"
    kind = query.get("type")
    is_pull = {"issues": False, "pulls": True}.get(kind or "")
    names = [n.strip() for n in query.get("labels", "").split(",") if n.strip()]
    rows = access.forge.store.issues(
        access.repo["id"], state=state, is_pull=is_pull, label_names=names
    )
    keyword = query.get("q", "").strip().lower()
    if keyword:
        rows = [r for r in rows if keyword in r["title"].lower() or keyword in r["body"].lower()]
    rows = _between(rows, query.get("since"), query.get("before"), "updated")
    page, headers = paginate(request, rows, access.forge.root_url)
    return json_response([issue_json(access, r) for r in page], headers=headers)


def _between(rows: list[Row], since: str | None, before: str | None, column: str) -> list[Row]:
    """since/before (RFC 3339) filters; a malformed time is a 422 like Gitea's."""

    def parse(value: str) -> datetime:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(422, f"invalid time {value!r}: use RFC 3339") from None

    after_t = parse(since) if since else None
    before_t = parse(before) if before else None
    out = []
    for row in rows:
        at = datetime.fromisoformat(row[column].replace("Z", "+00:00"))
        if (after_t is None or at >= after_t) and (before_t is None or at < before_t):
            out.append(row)
    return out


@routes.post(REPO + "/issues")
async def create_issue(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    access.require_not_archived()
    body = await read_json(request)
    title = req_str(body, "title")
    label_ids = opt_list(body, "labels") or []
    if any(not isinstance(i, int) or isinstance(i, bool) for i in label_ids):
        raise ApiError(422, "[labels]: must be an array of label ids")
    store = access.forge.store
    issue = store.create_issue(
        access.repo["id"],
        user["id"],
        title,
        opt_str(body, "body", "") or "",
        is_pull=False,
        ref=opt_str(body, "ref", "") or "",
        closed=bool(opt_bool(body, "closed")),
    )
    if access.can_write:  # like Gitea: labels from non-writers are dropped silently
        store.add_issue_labels(
            issue["id"], [lb["id"] for lb in store.labels_by_ids(access.repo["id"], label_ids)]
        )
    return json_response(issue_json(access, store.issue(issue["id"])), status=201)


@routes.get(REPO + "/issues/{index}")
async def get_issue(request: web.Request) -> web.Response:
    access = repo_access(request)
    return json_response(issue_json(access, issue_of(access, request)))


@routes.patch(REPO + "/issues/{index}")
async def edit_issue(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    issue = issue_of(access, request)
    access.require_not_archived()
    if not (access.can_write or issue["user_id"] == user["id"]):
        raise ApiError(403, "only the poster or a writer may edit this issue")
    body = await read_json(request)
    fields = edit_fields(access, issue, body)
    updated = access.forge.store.update_issue(issue["id"], **fields)
    return json_response(issue_json(access, updated), status=201)


def edit_fields(access: RepoAccess, issue: Row, body: dict[str, Any]) -> dict[str, Any]:
    """EditIssueOption fields shared by issue and pull request edits."""
    fields: dict[str, Any] = {}
    for key in ("title", "body", "ref"):
        value = opt_str(body, key)
        if value is not None:
            fields[key] = value
    if "title" in fields and not fields["title"].strip():
        raise ApiError(422, "[title]: Required")
    state = opt_str(body, "state")
    if state is not None:
        # Gitea: anything but "closed" means open.
        new_state = "closed" if state == "closed" else "open"
        if (
            issue["is_pull"]
            and access.forge.store.pull(issue["id"])["merged"]
            and (new_state != issue["state"])
        ):
            raise ApiError(412, "cannot change state of this pull request, it was already merged")
        fields["state"] = new_state
    return fields


# --- comments ---------------------------------------------------------------------------------


@routes.get(REPO + "/issues/{index}/comments")
async def list_comments(request: web.Request) -> web.Response:
    access = repo_access(request)
    issue = issue_of(access, request)
    rows = access.forge.store.comments(issue["id"])
    rows = _between(rows, request.query.get("since"), request.query.get("before"), "updated")
    headers = {"X-Total-Count": str(len(rows)), "Access-Control-Expose-Headers": "X-Total-Count"}
    return json_response([comment_json(access, issue, c) for c in rows], headers=headers)


@routes.post(REPO + "/issues/{index}/comments")
async def create_comment(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    issue = issue_of(access, request)
    access.require_not_archived()
    body = await read_json(request)
    text = req_str(body, "body")
    comment = access.forge.store.create_comment(issue["id"], user["id"], text)
    return json_response(comment_json(access, issue, comment), status=201)


def _comment(access: RepoAccess, request: web.Request) -> tuple[Row, Row]:
    comment_id = path_int(request, "id")
    comment = access.forge.store.comment_in_repo(access.repo["id"], comment_id)
    if comment is None:
        raise NotFound(f"comment does not exist [id: {comment_id}]")
    return access.forge.store.issue(comment["issue_id"]), comment


def _may_change(access: RepoAccess, comment: Row) -> None:
    user = access.require_user()
    if not (access.can_write or comment["user_id"] == user["id"]):
        raise ApiError(403, "only the poster or a writer may change this comment")


@routes.get(REPO + "/issues/comments/{id}")
async def get_comment(request: web.Request) -> web.Response:
    access = repo_access(request)
    issue, comment = _comment(access, request)
    return json_response(comment_json(access, issue, comment))


@routes.patch(REPO + "/issues/comments/{id}")
async def edit_comment(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_user()
    issue, comment = _comment(access, request)
    access.require_not_archived()
    _may_change(access, comment)
    body = await read_json(request)
    updated = access.forge.store.update_comment(comment["id"], req_str(body, "body"))
    return json_response(comment_json(access, issue, updated))


@routes.delete(REPO + "/issues/comments/{id}")
async def delete_comment(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_user()
    _, comment = _comment(access, request)
    access.require_not_archived()
    _may_change(access, comment)
    access.forge.store.delete_comment(comment["id"])
    return empty()
