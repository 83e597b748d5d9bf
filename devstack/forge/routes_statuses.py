"""Commit statuses and the combined status of a ref (gitea-notes §2, commit statuses)."""

from __future__ import annotations

from aiohttp import web

from devstack.forge import git
from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import repo_json, status_json
from devstack.forge.respond import ApiError, NotFound, json_response, opt_str, paginate, read_json
from devstack.forge.store import Row

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"
# Worst first: the combined state is the worst latest state over all contexts
# (CalcCommitStatus / NoBetterThan in Gitea).
STATE_PRIORITY = ("error", "failure", "warning", "pending", "success", "skipped")


async def _commit_sha(access: RepoAccess, ref: str) -> str:
    sha = await git.resolve(access.path, ref)
    if sha is None:
        raise NotFound(f"object does not exist [id: {ref}]")
    return sha


@routes.post(REPO + "/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    access = repo_access(request)
    user = access.require_writer()
    access.require_not_archived()
    sha = await _commit_sha(access, request.match_info["sha"])
    body = await read_json(request)
    state = opt_str(body, "state") or ""
    if state not in STATE_PRIORITY:
        raise ApiError(400, f"invalid commit status state {state!r}")
    status = access.forge.store.create_status(
        access.repo["id"],
        sha,
        state,
        opt_str(body, "context") or "default",
        opt_str(body, "description") or "",
        opt_str(body, "target_url") or "",
        user["id"],
    )
    return json_response(status_json(access, status), status=201)


def _listed(request: web.Request, access: RepoAccess, sha: str) -> web.Response:
    rows = access.forge.store.statuses(access.repo["id"], sha)
    wanted = request.query.get("state")
    if wanted:
        rows = [r for r in rows if r["state"] == wanted]
    if request.query.get("sort") in ("oldest", "leastindex"):
        rows = list(reversed(rows))
    page, headers = paginate(request, rows, access.forge.root_url)
    return json_response([status_json(access, r) for r in page], headers=headers)


@routes.get(REPO + "/statuses/{sha}")
async def list_statuses(request: web.Request) -> web.Response:
    access = repo_access(request)
    raw = request.match_info["sha"]
    return _listed(request, access, await git.resolve(access.path, raw) or raw)


@routes.get(REPO + "/commits/{ref}/statuses")
async def list_statuses_by_ref(request: web.Request) -> web.Response:
    access = repo_access(request)
    return _listed(request, access, await _commit_sha(access, request.match_info["ref"]))


def latest_per_context(rows: list[Row]) -> list[Row]:
    seen: dict[str, Row] = {}
    for row in rows:  # newest first
        seen.setdefault(row["context"], row)
    return list(seen.values())


@routes.get(REPO + "/commits/{ref}/status")
async def combined_status(request: web.Request) -> web.Response:
    access = repo_access(request)
    sha = await _commit_sha(access, request.match_info["ref"])
    latest = latest_per_context(access.forge.store.statuses(access.repo["id"], sha))
    state = min((r["state"] for r in latest), key=STATE_PRIORITY.index, default="")
    return json_response(
        {
            "state": state,
            "sha": sha,
            "total_count": len(latest),
            "statuses": [status_json(access, r) for r in latest] if latest else None,
            "repository": await repo_json(access),
            "commit_url": access.api(f"/commits/{sha}"),
            "url": access.api(f"/commits/{sha}/status"),
        }
    )
