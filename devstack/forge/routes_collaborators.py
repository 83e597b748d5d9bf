"""A user's permission on a repository, as Gitea 1.25's ``repoGetRepoPermissions`` answers it."""

from __future__ import annotations

from aiohttp import web

from devstack.forge.context import RepoAccess, repo_access
from devstack.forge.convert import user_json
from devstack.forge.respond import ApiError, json_response
from devstack.forge.store import Row

routes = web.RouteTableDef()

REPO = "/api/v1/repos/{owner}/{repo}"


def access_mode(access: RepoAccess, user: Row) -> str:
    """Gitea's AccessMode string: site admins "admin", the owner "owner", others by visibility.

    This forge has no collaborators, so every other user reads public repositories only.
    """
    if user["is_admin"]:
        return "admin"
    if user["id"] == access.owner["id"]:
        return "owner"
    return "none" if access.repo["private"] else "read"


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
