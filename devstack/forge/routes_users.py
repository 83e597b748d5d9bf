"""Version, the current user, admin user creation and access tokens."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from devstack.forge.context import (
    AUTH_METHOD_KEY,
    VERSION,
    forge_of,
    require_admin,
    require_user,
)
from devstack.forge.convert import user_json
from devstack.forge.respond import (
    ApiError,
    NotFound,
    json_response,
    opt_list,
    opt_str,
    read_json,
    req_str,
)

routes = web.RouteTableDef()

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Gitea 1.25 token scopes; they are recorded, not enforced (every token acts as its user).
SCOPE_AREAS = (
    "activitypub",
    "admin",
    "issue",
    "misc",
    "notification",
    "organization",
    "package",
    "repository",
    "user",
)
SCOPES = {"all"} | {f"{mode}:{area}" for mode in ("read", "write") for area in SCOPE_AREAS}


@routes.get("/api/v1/version")
async def version(request: web.Request) -> web.Response:
    return json_response({"version": VERSION})


@routes.get("/api/v1/user")
async def get_user(request: web.Request) -> web.Response:
    return json_response(user_json(forge_of(request), require_user(request)))


@routes.post("/api/v1/admin/users")
async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    forge = forge_of(request)
    body = await read_json(request)
    login, email = req_str(body, "username"), req_str(body, "email")
    if not USERNAME.match(login) or len(login) > 40:
        raise ApiError(422, f"[Username]: invalid user name {login!r}")
    if not EMAIL.match(email):
        raise ApiError(422, f"[Email]: invalid email address {email!r}")
    if forge.store.user_by_login(login) is not None:
        raise ApiError(422, f"user already exists [name: {login}]")
    if forge.store.email_taken(email):
        raise ApiError(422, f"e-mail already in use [email: {email}]")
    user = forge.store.create_user(
        login,
        email,
        full_name=opt_str(body, "full_name", "") or "",
        password=opt_str(body, "password") or secrets.token_urlsafe(24),
    )
    return json_response(user_json(forge, user), status=201)


@routes.post("/api/v1/users/{username}/tokens")
async def create_token(request: web.Request) -> web.Response:
    forge = forge_of(request)
    caller = require_user(request)
    target = forge.store.user_by_login(request.match_info["username"])
    if target is None:
        raise NotFound("user does not exist")
    # Gitea wants Basic auth of that very user here; the admin may act for anyone.
    by_basic = request.get(AUTH_METHOD_KEY) == "basic" and caller["id"] == target["id"]
    if not (by_basic or caller["is_admin"]):
        raise ApiError(403, "only the user itself (basic auth) or an admin may create tokens")
    body = await read_json(request)
    name = req_str(body, "name")
    scopes = opt_list(body, "scopes") or []
    if not scopes:
        raise ApiError(400, "access token must have a scope")
    if any(not isinstance(s, str) or s not in SCOPES for s in scopes):
        raise ApiError(400, "invalid access token scope")
    if forge.store.token_name_taken(target["id"], name):
        raise ApiError(400, "access token name has been used already")
    token = secrets.token_hex(20)
    row = forge.store.add_token(target["id"], name, token, scopes)
    return json_response(
        {
            "id": row["id"],
            "name": name,
            "sha1": token,
            "token_last_eight": token[-8:],
            "scopes": scopes,
            "created_at": row["created"],
            "last_used_at": row["created"],
        },
        status=201,
    )
