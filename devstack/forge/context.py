"""The forge's shared state, authentication and repository access checks."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from devstack.forge.respond import ApiError, NotFound
from devstack.forge.store import Row, Store, check_password

VERSION = "1.25.4"


@dataclass
class Forge:
    store: Store
    data_dir: Path
    root_url: str  # ROOT_URL, ends with '/'
    # One merge at a time per PR, as Gitea's pull "working pool" does: a retried merge request
    # waits for the first one and then finds the PR merged.
    merge_locks: defaultdict[int, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"

    @property
    def swagger_url(self) -> str:
        return f"{self.root_url}api/swagger"

    def api_url(self, path: str) -> str:
        return f"{self.root_url}api/v1{path}"

    def repo_path(self, owner_login: str, name: str) -> Path:
        # Gitea stores repositories lower-cased: <ROOT>/<owner>/<name>.git
        return self.repos_dir / owner_login.lower() / f"{name.lower()}.git"


FORGE = web.AppKey("forge", Forge)
USER_KEY = "forge.user"
AUTH_METHOD_KEY = "forge.auth_method"

INVALID_CREDENTIALS = "invalid username, password or token"


def forge_of(request: web.Request) -> Forge:
    return request.app[FORGE]


def authenticate(store: Store, request: web.Request) -> tuple[Row | None, str]:
    """(user, method) from the request's credentials; (None, '') when there are none.

    Raises ApiError(401) for credentials that do not check out (gitea-notes §1).
    """
    header = request.headers.get("Authorization", "").strip()
    if header:
        parts = header.split()
        if len(parts) != 2:
            raise ApiError(401, INVALID_CREDENTIALS)
        scheme, value = parts[0].lower(), parts[1]
        if scheme in ("token", "bearer"):
            return _by_token(store, value), "token"
        if scheme == "basic":
            return _by_basic(store, value), "basic"
        raise ApiError(401, INVALID_CREDENTIALS)
    for param in ("token", "access_token"):
        if request.query.get(param):
            return _by_token(store, request.query[param]), "token"
    return None, ""


def _by_token(store: Store, token: str) -> Row:
    user = store.user_by_token(token)
    if user is None:
        raise ApiError(401, INVALID_CREDENTIALS)
    return user


def _by_basic(store: Store, value: str) -> Row:
    try:
        username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, INVALID_CREDENTIALS) from None
    # Like Gitea: the token may be the password, or the username (empty/x-oauth-basic password).
    token = username if password in ("", "x-oauth-basic") else password
    user = store.user_by_token(token)
    if user is not None:
        return user
    user = store.user_by_login(username)
    if user is None or not check_password(user["password_hash"], password):
        raise ApiError(401, INVALID_CREDENTIALS)
    return user


def current_user(request: web.Request) -> Row | None:
    user: Row | None = request.get(USER_KEY)
    return user


def require_user(request: web.Request) -> Row:
    user = current_user(request)
    if user is None:
        raise ApiError(401, "token is required")
    return user


def require_admin(request: web.Request) -> Row:
    user = require_user(request)
    if not user["is_admin"]:
        raise ApiError(403, "you must be an admin")
    return user


@dataclass
class RepoAccess:
    """A repository as the current caller sees it."""

    forge: Forge
    repo: Row
    owner: Row
    user: Row | None

    @property
    def path(self) -> Path:
        return self.forge.repo_path(self.owner["login"], self.repo["name"])

    @property
    def collaboration(self) -> str | None:
        """The caller's collaborator permission (read, write, admin), if any."""
        if self.user is None:
            return None
        return self.forge.store.collaborator_permission(self.repo["id"], self.user["id"])

    @property
    def can_write(self) -> bool:
        return self.user is not None and (
            bool(self.user["is_admin"])
            or self.user["id"] == self.owner["id"]
            or self.collaboration in ("write", "admin")
        )

    @property
    def can_admin(self) -> bool:
        return self.user is not None and (
            bool(self.user["is_admin"])
            or self.user["id"] == self.owner["id"]
            or self.collaboration == "admin"
        )

    def require_user(self) -> Row:
        if self.user is None:
            raise ApiError(401, "token is required")
        return self.user

    def require_writer(self) -> Row:
        user = self.require_user()
        if not self.can_write:
            raise ApiError(403, "user should have write permission to this repository")
        return user

    def require_not_archived(self) -> None:
        if self.repo["archived"]:
            raise ApiError(423, "repo is archived")

    def api(self, suffix: str = "") -> str:
        return self.forge.api_url(f"/repos/{self.owner['login']}/{self.repo['name']}{suffix}")

    def html(self, suffix: str = "") -> str:
        return f"{self.forge.root_url}{self.owner['login']}/{self.repo['name']}{suffix}"


def repo_access(request: web.Request) -> RepoAccess:
    """The {owner}/{repo} of the route, or 404 when it is unknown or hidden from the caller."""
    forge = forge_of(request)
    owner_name, name = request.match_info["owner"], request.match_info["repo"]
    repo = forge.store.repo_by_name(owner_name, name)
    if repo is None:
        raise NotFound(f"repository does not exist [owner: {owner_name}, name: {name}]")
    access = RepoAccess(forge, repo, forge.store.user(repo["owner_id"]), current_user(request))
    if repo["private"] and not access.can_write:
        raise NotFound(f"repository does not exist [owner: {owner_name}, name: {name}]")
    return access
