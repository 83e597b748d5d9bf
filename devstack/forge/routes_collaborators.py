"""A user's permission on a repository, as Gitea 1.25's ``repoGetRepoPermissions`` answers it."""

from __future__ import annotations

from aiohttp import web

from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import user_json
from devstack.forge.respond import ApiError, empty, json_response, opt_str, read_json
from devstack.forge.store import Row

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"


COLLABORATOR_PERMISSIONS = ("read", "write", "admin")


def access_mode(access: RepoAccess, user: Row) -> str:
    """Gitea's AccessMode string: site admins "admin", the owner "owner", collaborators their
    permission, others by visibility."""
    if user["is_admin"]:
        return "admin"
    if user["id"] == access.owner["id"]:
        return "owner"
    granted = access.forge.store.collaborator_permission(access.repo["id"], user["id"])
    if granted is not None:
        return granted
    return "none" if access.repo["private"] else "read"


@routes.put(REPO + "/collaborators/{collaborator}")
async def add_collaborator(request: web.Request) -> web.Response:
    """Add or update a collaborator (AddCollaboratorOption); 204 as Gitea."""
    access = repo_access(request)
    access.require_user()
    if not access.can_admin:
        raise ApiError(403, "user should be an owner or a collaborator with admin write")
    access.require_not_archived()
    body = await read_json(request)
    permission = opt_str(body, "permission") or "write"
    if permission not in COLLABORATOR_PERMISSIONS:
        raise ApiError(422, f"[Permission]: must be one of {', '.join(COLLABORATOR_PERMISSIONS)}")
    login = request.match_info["collaborator"]
    user = access.forge.store.user_by_login(login)
    if user is None:
        raise ApiError(422, f"user does not exist [uid: 0, name: {login}]")
    access.forge.store.set_collaborator(access.repo["id"], user["id"], permission)
    return empty(204)


@routes.get(REPO + "/collaborators/{collaborator}/permission")
async def get_permission(request: web.Request) -> web.Response:
    access = repo_access(request)
    caller = access.require_user()
    wanted = request.match_info["collaborator"]
    # Gitea: site admins and repo admins may ask about anyone, everybody else about themselves.
    if not access.can_admin and caller["login"].lower() != wanted.lower():
        raise ApiError(
            403,
            "Only admins can query all permissions, repo admins can query all repo "
            "permissions, collaborators can query only their own",
        )
    user = access.forge.store.user_by_login(wanted)
    if user is None:
        raise ApiError(404, f"user does not exist [uid: 0, name: {wanted}]")
    mode = access_mode(access, user)
    return json_response(
        {"permission": mode, "role_name": mode, "user": user_json(access.forge, user)}
    )
