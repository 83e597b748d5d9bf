"""Repositories, branches and the read side of the contents API."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from devstack.forge import git
from devstack.forge.context import (
    RepoAccess,
    current_user,
    forge_of,
    repo_access,
    require_admin,
    require_user,
)
from devstack.forge.convert import branch_json, repo_json
from devstack.forge.respond import (
    ApiError,
    NotFound,
    empty,
    json_response,
    opt_bool,
    opt_str,
    paginate,
    read_json,
    req_str,
)
from devstack.forge.store import Row, now

routes = web.RouteTableDef()

REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
RESERVED_NAMES = {".", "..", "-"}
RESERVED_SUFFIXES = (".git", ".wiki", ".rss", ".atom")
REPO = "/api/v1/repos/{owner}/{repo}"


# --- repositories -----------------------------------------------------------------------------


@routes.post("/api/v1/user/repos")
async def create_user_repo(request: web.Request) -> web.Response:
    return await _create_repo(request, require_user(request))


@routes.post("/api/v1/admin/users/{username}/repos")
async def create_repo_for_user(request: web.Request) -> web.Response:
    require_admin(request)
    owner = forge_of(request).store.user_by_login(request.match_info["username"])
    if owner is None:
        raise NotFound("user does not exist")
    return await _create_repo(request, owner)


async def _create_repo(request: web.Request, owner: Row) -> web.Response:
    forge = forge_of(request)
    body = await read_json(request)
    name = req_str(body, "name")
    if (
        not REPO_NAME.match(name)
        or name in RESERVED_NAMES
        or name.lower().endswith(RESERVED_SUFFIXES)
        or len(name) > 100
    ):
        raise ApiError(422, f"[Name]: invalid repository name {name!r}")
    default_branch = opt_str(body, "default_branch") or "main"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$", default_branch) or ".." in default_branch:
        raise ApiError(422, f"[DefaultBranch]: invalid branch name {default_branch!r}")
    if forge.store.repo_by_name(owner["login"], name) is not None:
        raise ApiError(409, "The repository with the same name already exists.")
    repo = forge.store.create_repo(
        owner["id"],
        name,
        description=opt_str(body, "description", "") or "",
        private=bool(opt_bool(body, "private")),
        default_branch=default_branch,
    )
    access = RepoAccess(forge, repo, owner, current_user(request))
    await git.init_bare(access.path, default_branch)
    if opt_bool(body, "auto_init"):
        await _initial_commit(access, owner, default_branch)
    return json_response(await repo_json(access), status=201)


async def _initial_commit(access: RepoAccess, owner: Row, branch: str) -> None:
    readme = f"# {access.repo['name']}\n"
    if access.repo["description"]:
        readme += f"\n{access.repo['description']}\n"
    _, out = await git.run(access.path, "hash-object", "-w", "--stdin", stdin=readme.encode())
    blob_sha = out.decode().strip()
    _, out = await git.run(
        access.path, "mktree", stdin=f"100644 blob {blob_sha}\tREADME.md\n".encode()
    )
    who = git.Signature(owner["login"], owner["email"], "")
    sha = await git.commit_tree(access.path, out.decode().strip(), [], "Initial commit\n", who)
    await git.update_ref(access.path, f"refs/heads/{branch}", sha, git.ZERO_SHA)


@routes.get(REPO)
async def get_repo(request: web.Request) -> web.Response:
    return json_response(await repo_json(repo_access(request)))


@routes.patch(REPO)
async def edit_repo(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_writer()
    body = await read_json(request)
    fields: dict[str, Any] = {}
    description = opt_str(body, "description")
    if description is not None:
        fields["description"] = description
    private = opt_bool(body, "private")
    if private is not None:
        fields["private"] = int(private)
    default_branch = opt_str(body, "default_branch")
    if default_branch is not None and default_branch != access.repo["default_branch"]:
        if await git.branch_sha(access.path, default_branch) is None:
            raise NotFound(f"branch does not exist [name: {default_branch}]")
        fields["default_branch"] = default_branch
        await git.set_head(access.path, default_branch)
    archived = opt_bool(body, "archived")
    if archived is not None and archived != bool(access.repo["archived"]):
        fields["archived"] = int(archived)
        fields["archived_at"] = now() if archived else None
    access.repo = access.forge.store.update_repo(access.repo["id"], **fields)
    return json_response(await repo_json(access))


@routes.delete(REPO)
async def delete_repo(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_writer()
    access.forge.store.delete_repo(access.repo["id"])
    git.remove(access.path)
    return empty()


# --- branches ---------------------------------------------------------------------------------


@routes.get(REPO + "/branches")
async def list_branches(request: web.Request) -> web.Response:
    access = repo_access(request)
    default = access.repo["default_branch"]
    names = sorted(await git.branches(access.path), key=lambda b: (b[0] != default, b[0]))
    page, headers = paginate(request, names, access.forge.root_url)
    return json_response([await branch_json(access, n, sha) for n, sha in page], headers=headers)


@routes.get(REPO + "/branches/{branch:.+}")
async def get_branch(request: web.Request) -> web.Response:
    access = repo_access(request)
    name = request.match_info["branch"]
    sha = await git.branch_sha(access.path, name)
    if sha is None:
        raise NotFound(f"branch does not exist [name: {name}]")
    return json_response(await branch_json(access, name, sha))


@routes.post(REPO + "/branches")
async def create_branch(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_writer()
    access.require_not_archived()
    body = await read_json(request)
    name = req_str(body, "new_branch_name")
    old = opt_str(body, "old_ref_name") or opt_str(body, "old_branch_name")
    if not await git.valid_branch_name(access.path, name):
        raise ApiError(422, f"invalid branch name {name!r}")
    start = await git.resolve(access.path, old or access.repo["default_branch"])
    if start is None:
        raise NotFound("The old branch does not exist")
    if await git.branch_sha(access.path, name) is not None or await git.resolve(
        access.path, f"refs/tags/{name}"
    ):
        raise ApiError(409, f"The branch with the same name already exists [name: {name}]")
    if not await git.update_ref(access.path, f"refs/heads/{name}", start, git.ZERO_SHA):
        raise ApiError(409, f"The branch with the same name already exists [name: {name}]")
    return json_response(await branch_json(access, name, start), status=201)


@routes.delete(REPO + "/branches/{branch:.+}")
async def delete_branch(request: web.Request) -> web.Response:
    access = repo_access(request)
    access.require_writer()
    access.require_not_archived()
    name = request.match_info["branch"]
    sha = await git.branch_sha(access.path, name)
    if sha is None:
        raise NotFound(f"branch does not exist [name: {name}]")
    if name == access.repo["default_branch"]:
        raise ApiError(403, "can not delete default branch")
    await git.delete_ref(access.path, f"refs/heads/{name}")
    return empty()


# --- contents (read only) ---------------------------------------------------------------------


@routes.get(REPO + "/contents")
async def list_root(request: web.Request) -> web.Response:
    return await _contents(request, "")


@routes.get(REPO + "/contents/{filepath:.*}")
async def get_contents(request: web.Request) -> web.Response:
    return await _contents(request, request.match_info["filepath"].strip("/"))


async def _contents(request: web.Request, path: str) -> web.Response:
    access = repo_access(request)
    ref = request.query.get("ref") or access.repo["default_branch"]
    sha = await git.resolve(access.path, ref)
    if sha is None:
        raise NotFound(f"object does not exist [id: {ref}]")
    entry = await git.tree_entry(access.path, sha, path)
    if entry is None:
        raise NotFound(f"object does not exist [id: {ref}, rel_path: {path}]")
    if entry.kind == "tree":
        children = await git.list_tree(access.path, sha, path)
        return json_response([await _content(access, ref, sha, e, False) for e in children])
    return json_response(await _content(access, ref, sha, entry, True))


async def _content(
    access: RepoAccess, ref: str, commit_sha: str, entry: git.TreeEntry, with_content: bool
) -> dict[str, Any]:
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.kind, "file")
    if entry.mode == "120000":
        kind = "symlink"
    data = await git.blob(access.path, entry.sha) if entry.kind == "blob" else b""
    last = await git.last_commit(access.path, commit_sha, entry.path)
    qpath, qref = quote(entry.path), quote(ref, safe="")
    self_url = access.api(f"/contents/{qpath}?ref={qref}")
    git_url = access.api(f"/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}")
    html_url = access.html(f"/src/branch/{quote(ref)}/{qpath}")
    return {
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "last_commit_sha": last.sha if last else None,
        "last_commit_message": last.message if last else None,
        "last_author_date": last.author.date if last else None,
        "last_committer_date": last.committer.date if last else None,
        "type": kind,
        "size": entry.size,
        "encoding": "base64" if kind == "file" and with_content else None,
        "content": base64.b64encode(data).decode() if kind == "file" and with_content else None,
        "target": data.decode(errors="replace") if kind == "symlink" else None,
        "url": self_url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": access.html(f"/raw/branch/{quote(ref)}/{qpath}")
        if kind == "file"
        else None,
        "submodule_git_url": None,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
        "lfs_oid": None,
        "lfs_size": None,
    }
