"""Pull requests: create, list, edit and merge (for real, in git); reviews in routes_reviews."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devstack.forge import git, merge
from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import issue_html, label_json, repo_json, user_json, user_ref
from devstack.forge.respond import (
    ApiError,
    NotFound,
    empty,
    json_response,
    opt_list,
    opt_str,
    paginate,
    path_int,
    read_json,
    req_str,
)
from devstack.forge.routes_issues import edit_fields
from devstack.forge.store import Row, now

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"
PULL = REPO + "/pulls/{index}"


def pull_issue(access: RepoAccess, request: web.Request) -> tuple[Row, Row]:
    number = path_int(request, "index")
    issue = access.forge.store.issue_by_number(access.repo["id"], number)
    if issue is None or not issue["is_pull"]:
        raise NotFound(
            f"pull request does not exist [repo_id: {access.repo['id']}, index: {number}]"
        )
    return issue, access.forge.store.pull(issue["id"])


async def head_sha(access: RepoAccess, issue: Row, pull: Row) -> str:
    """The PR head: the live branch while open, else what refs/pull/N/head recorded."""
    live = None if pull["merged"] else await git.branch_sha(access.path, pull["head_branch"])
    if live and live != pull["head_sha"]:
        access.forge.store.update_pull(pull["id"], head_sha=live)
        await git.update_ref(access.path, f"refs/pull/{issue['number']}/head", live)
    return live or str(pull["head_sha"])


async def pull_json(access: RepoAccess, issue: Row) -> dict[str, Any]:
    store, path = access.forge.store, access.path
    pull = store.pull(issue["id"])
    head = await head_sha(access, issue, pull)
    base = await git.branch_sha(path, pull["base_branch"])
    merged = bool(pull["merged"])
    base_point = pull["merge_base"]
    if not merged and base:
        base_point = await git.merge_base(path, base, head) or base_point
    stat = await git.diff_stat(path, base_point, head) if base_point else None
    head_live = await git.branch_sha(path, pull["head_branch"])
    mergeable = merged or bool(
        base and head_live and await git.merge_tree(path, base, head_live) is not None
    )
    repo = await repo_json(access)
    html = issue_html(access, issue)

    def branch_info(name: str, sha: str) -> dict[str, Any]:
        return {"label": name, "ref": name, "sha": sha, "repo_id": access.repo["id"], "repo": repo}

    return {
        "id": pull["id"],
        "url": html,
        "number": issue["number"],
        "user": user_json(access.forge, store.user(issue["user_id"])),
        "title": issue["title"],
        "body": issue["body"],
        "labels": [label_json(access, lb) for lb in store.issue_labels(issue["id"])],
        "milestone": None,
        "assignee": None,
        "assignees": None,
        "requested_reviewers": None,
        "requested_reviewers_teams": None,
        "state": issue["state"],
        "draft": False,
        "is_locked": False,
        "comments": store.comment_count(issue["id"]),
        "review_comments": store.review_comment_count(issue["id"]),
        "additions": stat.additions if stat else 0,
        "deletions": stat.deletions if stat else 0,
        "changed_files": stat.changed_files if stat else 0,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "mergeable": mergeable,
        "merged": merged,
        "merged_at": pull["merged_at"],
        "merge_commit_sha": pull["merge_commit_sha"],
        "merged_by": user_ref(access.forge, pull["merged_by"]),
        "allow_maintainer_edit": False,
        "base": branch_info(pull["base_branch"], base or base_point or ""),
        "head": branch_info(pull["head_branch"], head),
        "merge_base": base_point,
        "due_date": None,
        "created_at": issue["created"],
        "updated_at": issue["updated"],
        "closed_at": issue["closed_at"],
        "pin_order": 0,
    }


@routes.get(REPO + "/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    access = repo_access(request)
    state = request.query.get("state", "open")
    state = state if state in ("open", "closed", "all") else "open"
    rows = access.forge.store.issues(access.repo["id"], state=state, is_pull=True)
    base_branch = request.query.get("base_branch")
    if base_branch:
        store = access.forge.store
        rows = [r for r in rows if store.pull(r["id"])["base_branch"] == base_branch]
    page, headers = paginate(request, rows, access.forge.root_url)
    return json_response([await pull_json(access, r) for r in page], headers=headers)


@routes.post(REPO + "/pulls")
async def create_pull(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    access.require_not_archived()
    body = await read_json(request)
    # binding:"Required" on head, base and title although the spec omits it (notes §2)
    head, base, title = req_str(body, "head"), req_str(body, "base"), req_str(body, "title")
    if ":" in head:
        head_owner, head = head.split(":", 1)
        if head_owner.lower() != access.owner["login"].lower():
            raise NotFound("forks are not supported by the local forge")
    if head == base:
        raise ApiError(
            422, "Invalid PullRequest: There are no changes between the head and the base"
        )
    base_sha = await git.branch_sha(access.path, base)
    head_tip = await git.branch_sha(access.path, head)
    if base_sha is None or head_tip is None:
        if await git.resolve(access.path, base) and await git.resolve(access.path, head):
            raise ApiError(422, "Invalid PullRequest: base and head must be branches")
        raise NotFound(f"branch does not exist [{base if base_sha is None else head}]")
    no_changes = await git.is_ancestor(access.path, head_tip, base_sha)
    merge_base = await git.merge_base(access.path, base_sha, head_tip) or ""
    # From the duplicate check to the pull row, no await: a concurrent request can neither
    # open a second PR for these branches nor list an issue row that has no pull row yet.
    store = access.forge.store
    existing = store.open_pull_for(access.repo["id"], head, base)
    if existing is not None:
        number = store.issue(existing["issue_id"])["number"]
        raise ApiError(
            409,
            f"pull request already exists for these targets [id: {existing['id']}, "
            f"issue_id: {number}, head_branch: {head}, base_branch: {base}]",
        )
    if no_changes:
        raise ApiError(
            422, "Invalid PullRequest: There are no changes between the head and the base"
        )
    label_ids = [i for i in (opt_list(body, "labels") or []) if isinstance(i, int)]
    issue = store.create_issue(
        access.repo["id"], user["id"], title, opt_str(body, "body", "") or "", is_pull=True
    )
    store.create_pull(issue["id"], head, base, merge_base, head_tip)
    await git.update_ref(access.path, f"refs/pull/{issue['number']}/head", head_tip)
    if access.can_write and label_ids:
        found = store.labels_by_ids(access.repo["id"], label_ids)
        store.add_issue_labels(issue["id"], [lb["id"] for lb in found])
    return json_response(await pull_json(access, store.issue(issue["id"])), status=201)


@routes.get(PULL)
async def get_pull(request: web.Request) -> web.Response:
    access = repo_access(request)
    issue, _ = pull_issue(access, request)
    return json_response(await pull_json(access, issue))


@routes.patch(PULL)
async def edit_pull(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    issue, pull = pull_issue(access, request)
    access.require_not_archived()
    if not (access.can_write or issue["user_id"] == user["id"]):
        raise ApiError(403, "only the poster or a writer may edit this pull request")
    body = await read_json(request)
    if body.get("title") == "":
        body.pop("title")  # Gitea ignores an empty title here
    fields = edit_fields(access, issue, body)
    new_base = opt_str(body, "base")
    store = access.forge.store
    if new_base and new_base != pull["base_branch"] and not pull["merged"]:
        if await git.branch_sha(access.path, new_base) is None:
            raise NotFound(f"new base '{new_base}' not exist")
        if store.open_pull_for(access.repo["id"], pull["head_branch"], new_base):
            raise ApiError(409, "pull request already exists for these targets")
        store.update_pull(pull["id"], base_branch=new_base)
    labels = opt_list(body, "labels")
    if labels is not None and access.can_write:
        ids = [
            lb["id"]
            for lb in store.labels_by_ids(
                access.repo["id"], [i for i in labels if isinstance(i, int)]
            )
        ]
        store.clear_issue_labels(issue["id"])
        store.add_issue_labels(issue["id"], ids)
    updated = store.update_issue(issue["id"], **fields)
    return json_response(await pull_json(access, updated), status=201)  # sic: 201, as Gitea


@routes.get(PULL + "/merge")
async def is_merged(request: web.Request) -> web.Response:
    access = repo_access(request)
    _, pull = pull_issue(access, request)
    if pull["merged"]:
        return empty(204)
    raise NotFound()


@routes.post(PULL + "/merge")
async def merge_pull(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_user()
    _, pull = pull_issue(access, request)
    async with access.forge.merge_locks[pull["id"]]:
        return await _merge_locked(request, access, user)


async def _merge_locked(request: web.Request, access: RepoAccess, user: Row) -> web.Response:
    issue, pull = pull_issue(access, request)  # read again: a merge before ours may have landed
    access.require_not_archived()
    body = await read_json(request)
    # MergePullRequestOption.Do has no json tag in 1.25.4 (Go matches `do` too; 1.27 spells it so)
    style = opt_str(body, "Do") or opt_str(body, "do") or ""
    if style not in merge.STYLES:
        raise ApiError(422, f"[Do]: must be one of {', '.join(merge.STYLES)}")
    if pull["merged"]:
        raise ApiError(405, "PR already merged")
    if issue["state"] == "closed":
        raise NotFound()
    if not access.can_write:
        raise ApiError(405, "User not allowed to merge PR")
    head = await head_sha(access, issue, pull)
    # Gitea refuses a PR whose checked status is "conflict" before it tries (ErrNotMergeableState);
    # a conflict found only while merging is a 409 (merge.perform).
    base_tip = await git.branch_sha(access.path, pull["base_branch"])
    if base_tip and await git.merge_tree(access.path, base_tip, head) is None:
        raise ApiError(405, "Please try again later")
    expected = opt_str(body, "head_commit_id")
    if expected and expected != head:
        raise ApiError(409, "head out of date")
    if style == "manually-merged":
        raise ApiError(405, "manually-merged is not an allowed merge style for this repository")
    title = opt_str(body, "MergeTitleField") or opt_str(body, "merge_title_field") or ""
    extra = opt_str(body, "MergeMessageField") or opt_str(body, "merge_message_field") or ""
    message = title.strip() + (f"\n\n{extra.strip()}" if title.strip() and extra.strip() else "")
    req = merge.MergeRequest(
        style,
        pull["base_branch"],
        pull["head_branch"],
        head,
        issue["title"],
        issue["number"],
        message,
    )
    who = git.Signature(user["full_name"] or user["login"], user["email"], "")
    base_ref = f"refs/heads/{pull['base_branch']}"
    merge_base = await git.merge_base(access.path, base_ref, head) or pull["merge_base"]
    new_sha = await merge.perform(access.path, req, who)
    store = access.forge.store
    store.update_pull(
        pull["id"],
        merged=1,
        merged_at=now(),
        merged_by=user["id"],
        merge_commit_sha=new_sha,
        head_sha=head,
        merge_base=merge_base,
    )
    store.update_issue(issue["id"], state="closed")
    if (
        body.get("delete_branch_after_merge") is True
        and pull["head_branch"] != access.repo["default_branch"]
    ):
        await git.delete_ref(access.path, f"refs/heads/{pull['head_branch']}")
    return empty(200)
