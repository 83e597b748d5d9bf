"""The forge's aiohttp application: routes, authentication and Gitea-shaped errors."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from devstack.forge import (
    githttp,
    routes_collaborators,
    routes_issues,
    routes_labels,
    routes_pulls,
    routes_repos,
    routes_reviews,
    routes_statuses,
    routes_users,
)
from devstack.forge.context import AUTH_METHOD_KEY, FORGE, USER_KEY, Forge, authenticate
from devstack.forge.git import GitError
from devstack.forge.respond import ApiError, NotFound, error_body, json_response
from devstack.forge.store import Store

log = logging.getLogger("devstack.forge")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_LENGTH = 40


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate API calls and turn failures into Gitea's JSON error bodies."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    forge = request.app[FORGE]
    try:
        user, method = authenticate(forge.store, request)
        request[USER_KEY] = user
        request[AUTH_METHOD_KEY] = method
        return await handler(request)
    except ApiError as err:
        return json_response(error_body(err, forge.swagger_url), status=err.status)
    except web.HTTPNotFound:
        return json_response(error_body(NotFound(), forge.swagger_url), status=404)
    except web.HTTPMethodNotAllowed:
        return json_response(
            error_body(ApiError(405, "method not allowed"), forge.swagger_url), status=405
        )
    except web.HTTPException:
        raise  # e.g. 413 for an oversized body: aiohttp's own answer is right
    except GitError as err:
        log.error("git failed on %s %s: %s", request.method, request.path, err.stderr.strip())
        return _internal_error(forge)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _internal_error(forge)


def _internal_error(forge: Forge) -> web.Response:
    # Gitea blanks 500 messages for non-admins in production (notes §0); details go to the log.
    return json_response(error_body(ApiError(500, ""), forge.swagger_url), status=500)


def create_app(data_dir: Path, root_url: str) -> web.Application:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "repos").mkdir(exist_ok=True)
    store = Store(data_dir / "forge.db")
    app = web.Application(middlewares=[api_middleware], client_max_size=64 * 1024 * 1024)
    app[FORGE] = Forge(store, data_dir, root_url if root_url.endswith("/") else root_url + "/")
    for module in (
        routes_users,
        routes_repos,
        routes_collaborators,
        routes_labels,
        routes_issues,
        routes_pulls,
        routes_reviews,
        routes_statuses,
        githttp,
    ):
        app.add_routes(module.routes)

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    return app


def ensure_admin(store: Store, login: str, token_file: Path) -> str:
    """Create the admin on first start; (re)register the token kept in token_file."""
    admin = store.user_by_login(login)
    if admin is None:
        admin = store.create_user(
            login, f"{login}@noreply.localhost", is_admin=True, password=secrets.token_urlsafe(24)
        )
    if token_file.exists():
        token = token_file.read_text().strip()
        if len(token) != TOKEN_LENGTH or not all(c in "0123456789abcdef" for c in token):
            raise SystemExit(f"{token_file.name}: not a 40-hex token")
    else:
        token = secrets.token_hex(TOKEN_LENGTH // 2)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    if not store.has_token(token):
        name = "autopilot-admin"
        suffix = 1
        while store.token_name_taken(admin["id"], name):
            suffix += 1
            name = f"autopilot-admin-{suffix}"
        store.add_token(admin["id"], name, token, ["all"])
    return token
