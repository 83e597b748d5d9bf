"""Smart HTTP git (clone, fetch, push) by bridging to ``git http-backend`` over CGI."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from devstack.forge import git
from devstack.forge.context import RepoAccess, authenticate, forge_of
from devstack.forge.respond import ApiError

routes = web.RouteTableDef()

GIT_TAIL = r"{tail:(info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+)}"
REALM = {"WWW-Authenticate": 'Basic realm="Gitea"'}
CHUNK = 64 * 1024


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers)


@routes.route("*", "/{owner}/{repo}/" + GIT_TAIL)
async def git_http(request: web.Request) -> web.StreamResponse:
    forge = forge_of(request)
    name = request.match_info["repo"].removesuffix(".git")
    tail = request.match_info["tail"]
    pushing = tail == "git-receive-pack" or request.query.get("service") == "git-receive-pack"
    try:
        user, _ = authenticate(forge.store, request)
    except ApiError:
        return _plain(401, "invalid username, password or token", REALM)
    repo = forge.store.repo_by_name(request.match_info["owner"], name)
    if repo is None:
        return _plain(404, "repository not found") if user else _plain(401, "", REALM)
    access = RepoAccess(forge, repo, forge.store.user(repo["owner_id"]), user)
    hidden = bool(repo["private"]) and not access.can_write
    if (pushing or hidden) and user is None:
        return _plain(401, "authentication required", REALM)
    if hidden:
        return _plain(404, "repository not found")
    if pushing and not access.can_write:
        return _plain(403, "user is not allowed to push to this repository")
    if pushing and repo["archived"]:
        return _plain(403, "repo is archived")
    response = await _cgi(request, access, tail, user["login"] if user else "")
    if pushing and tail == "git-receive-pack":
        await _after_push(access)
    return response


async def _cgi(
    request: web.Request, access: RepoAccess, tail: str, remote_user: str
) -> web.StreamResponse:
    repo_dir = f"{access.owner['login'].lower()}/{access.repo['name'].lower()}.git"
    env = git.git_env(
        {
            "GIT_PROJECT_ROOT": str(access.forge.repos_dir),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo_dir}/{tail}",
            "QUERY_STRING": request.query_string,
            "REQUEST_METHOD": request.method,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "REMOTE_USER": remote_user,
            "REMOTE_ADDR": request.remote or "",
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        }
    )
    if request.content_length is not None:
        env["CONTENT_LENGTH"] = str(request.content_length)
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    feeder = asyncio.create_task(_feed(request, proc.stdin))
    try:
        status, headers = await _read_cgi_headers(proc.stdout)
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        while chunk := await proc.stdout.read(CHUNK):
            await response.write(chunk)
        await response.write_eof()
        await feeder
        return response
    finally:
        if not feeder.done():
            feeder.cancel()
        with contextlib.suppress(ProcessLookupError):
            if proc.returncode is None:
                await asyncio.wait_for(proc.wait(), timeout=30)


async def _feed(request: web.Request, stdin: asyncio.StreamWriter) -> None:
    """Stream the request body into the CGI (git may send it chunked, without a length)."""
    try:
        while chunk := await request.content.read(CHUNK):
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status = 200
    headers: dict[str, str] = {}
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[key.strip()] = value.strip()


async def _after_push(access: RepoAccess) -> None:
    """A first push into an empty repo whose default branch was not pushed picks a pushed one."""
    default = access.repo["default_branch"]
    if await git.branch_sha(access.path, default) is not None:
        return
    pushed = await git.branches(access.path)
    if pushed:
        new_default = pushed[0][0]
        access.forge.store.update_repo(access.repo["id"], default_branch=new_default)
        await git.set_head(access.path, new_default)
