"""Repository labels and the labels of one issue (gitea-notes §2, issue labels)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import label_json
from devstack.forge.respond import (
    ApiError,
    NotFound,
    empty,
    json_response,
    opt_bool,
    opt_str,
    paginate,
    path_int,
    read_json,
    req_str,
)
from devstack.forge.store import Row

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"
ISSUE_LABELS = REPO + "/issues/{index}/labels"
HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def normalize_color(value: str) -> str:
    """'#ABC' / 'aabbcc' -> 'aabbcc'; Gitea stores '#rrggbb' and the API drops the '#'."""
    match = HEX_COLOR.match(value.strip())
    if not match:
        raise ApiError(422, f"invalid color {value!r}: use #rrggbb")
    digits = match.group(1).lower()
    return "".join(c * 2 for c in digits) if len(digits) == 3 else digits


@routes.get(REPO + "/labels")
async def list_labels(request: web.Request) -> web.Response:
    access = repo_access(request)
    items = [label_json(access, lb) for lb in access.forge.store.labels(access.repo["id"])]
    page, headers = paginate(request, items, access.forge.root_url, link=False)
    return json_response(page, headers=headers)  # X-Total-Count only, no Link (notes §3)


@routes.post(REPO + "/labels")
async def create_label(request: web.Request) -> web.Response:
    """Names are not unique: like Gitea, a second label of the same name is created."""
    access = repo_access(request)
    access.require_writer()
    access.require_not_archived()
    body = await read_json(request)
    name = req_str(body, "name")
    color = normalize_color(req_str(body, "color"))
    label = access.forge.store.create_label(
        access.repo["id"],
        name,
        color,
        opt_str(body, "description", "") or "",
        bool(opt_bool(body, "exclusive")),
        bool(opt_bool(body, "is_archived")),
    )
    return json_response(label_json(access, label), status=201)


@routes.delete(REPO + "/labels/{id}")
async def delete_label(request: web.Request) -> web.Response:
    """204 even for an unknown id or another repository's label, as Gitea's DeleteLabel."""
    access = repo_access(request)
    access.require_writer()
    access.require_not_archived()
    raw = request.match_info["id"]
    label_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0  # junk parses as 0
    access.forge.store.delete_label(access.repo["id"], label_id)
    return empty()


def issue_of(access: RepoAccess, request: web.Request) -> Row:
    number = path_int(request, "index")
    issue = access.forge.store.issue_by_number(access.repo["id"], number)
    if issue is None:
        raise NotFound(f"issue does not exist [repo_id: {access.repo['id']}, index: {number}]")
    return issue


def _labels_json(access: RepoAccess, issue: Row) -> list[dict[str, Any]]:
    return [label_json(access, lb) for lb in access.forge.store.issue_labels(issue["id"])]


@routes.get(ISSUE_LABELS)
async def list_issue_labels(request: web.Request) -> web.Response:
    access = repo_access(request)
    return json_response(_labels_json(access, issue_of(access, request)))


async def _wanted_labels(access: RepoAccess, request: web.Request) -> list[int]:
    """IssueLabelsOption: all ids (numbers) or all names (strings); unknown ones are dropped."""
    body = await read_json(request)
    raw = body.get("labels") or []
    if not isinstance(raw, list):
        raise ApiError(422, "[labels]: must be an array")
    numbers = [v for v in raw if isinstance(v, int | float) and not isinstance(v, bool)]
    names = [v for v in raw if isinstance(v, str)]
    if len(numbers) + len(names) != len(raw):
        raise ApiError(400, "a label must be an integer or a string")
    if numbers and names:
        raise ApiError(400, "labels should be an array of strings or integers")
    store, repo_id = access.forge.store, access.repo["id"]
    found = (
        store.labels_by_names(repo_id, names)
        if names
        else store.labels_by_ids(repo_id, (int(n) for n in numbers))
    )
    return [lb["id"] for lb in found]


def _prepare(request: web.Request) -> tuple[RepoAccess, Row]:
    access = repo_access(request)
    access.require_user()
    issue = issue_of(access, request)
    access.require_not_archived()
    access.require_writer()
    return access, issue


@routes.post(ISSUE_LABELS)
async def add_issue_labels(request: web.Request) -> web.Response:
    access, issue = _prepare(request)
    ids = await _wanted_labels(access, request)
    access.forge.store.add_issue_labels(issue["id"], ids)
    access.forge.store.touch_issue(issue["id"])
    return json_response(_labels_json(access, issue))


@routes.put(ISSUE_LABELS)
async def replace_issue_labels(request: web.Request) -> web.Response:
    access, issue = _prepare(request)
    ids = await _wanted_labels(access, request)
    access.forge.store.clear_issue_labels(issue["id"])
    access.forge.store.add_issue_labels(issue["id"], ids)
    access.forge.store.touch_issue(issue["id"])
    return json_response(_labels_json(access, issue))


@routes.delete(ISSUE_LABELS)
async def clear_issue_labels(request: web.Request) -> web.Response:
    access, issue = _prepare(request)
    access.forge.store.clear_issue_labels(issue["id"])
    access.forge.store.touch_issue(issue["id"])
    return empty()


@routes.delete(ISSUE_LABELS + "/{id}")
async def remove_issue_label(request: web.Request) -> web.Response:
    access, issue = _prepare(request)
    raw = request.match_info["id"]
    label_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0  # junk parses as 0, as in Gitea
    if not access.forge.store.labels_by_ids(access.repo["id"], [label_id]):
        raise ApiError(422, f"label does not exist [id: {label_id}]")
    access.forge.store.remove_issue_label(issue["id"], label_id)
    access.forge.store.touch_issue(issue["id"])
    return empty()
