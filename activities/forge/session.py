"""The HTTP side of the Gitea client: one pooled connection, error mapping, parsing, pages.

Endpoint methods live in ``client.py``; everything here is shared plumbing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from activities.forge.errors import GiteaError, error_for_response, error_for_transport
from activities.forge.metrics import count_request
from activities.forge.operations import Operation
from activities.forge.pagination import MAX_LIMIT, Params, paginate
from domain import names

M = TypeVar("M", bound=BaseModel)

CONNECT_SECONDS = 5.0
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=CONNECT_SECONDS)
API_PREFIX = "/api/v1"
# A response that parses but does not fit the API shape will not fix itself on retry.


def api_root(base_url: str) -> str:
    """``https://host[/sub]`` (with or without ``/api/v1``) -> ``https://host[/sub]/api/v1``."""
    parts = urlsplit(base_url.strip())
    # The URL is not echoed back: a mistaken one may embed credentials.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("forge URL must look like http(s)://host[:port][/path]")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("forge URL must not carry credentials, a query or a fragment")
    path = parts.path.rstrip("/")
    if not path.endswith(API_PREFIX):
        path += API_PREFIX
    return f"{parts.scheme}://{parts.netloc}{path}"


class ApiSession:
    """An authenticated connection pool to one forge's ``/api/v1``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``timeout`` in seconds (``forge.timeout_seconds``) bounds each request."""
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(CONNECT_SECONDS, timeout))
        if not token:
            raise ValueError("a Gitea API token is required")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=api_root(base_url),
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            # Gitea redirects renamed repositories; httpx drops the token on cross-host hops.
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        op: Operation,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        **path: str | int,
    ) -> httpx.Response:
        url = op.render(**path)
        try:
            response = await self._http.request(op.method, url, params=params, json=json)
        except httpx.TransportError as exc:
            count_request(op.method, None)
            raise error_for_transport(op.method, url, exc, self._token) from None
        count_request(op.method, response.status_code)
        if not response.is_success:
            raise error_for_response(op.method, url, response, self._token)
        return response

    async def _found(self, op: Operation, **path: str | int) -> bool:
        """Send ``op``; False when Gitea answers 404 (gone already, or not so), else True."""
        try:
            await self._send(op, params=None, json=None, **path)
        except GiteaError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _bad_response(self, op: Operation, problem: str) -> GiteaError:
        return GiteaError(
            f"Gitea {op.method} {op.template} returned an unexpected body: {problem}",
            type=names.ERR_FORGE_BAD_RESPONSE,
            non_retryable=True,
        )

    def _parse(self, op: Operation, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self._bad_response(op, f"{exc.error_count()} field errors") from None

    def _parse_list(self, op: Operation, model: type[M], data: Any) -> list[M]:
        if not isinstance(data, list):
            raise self._bad_response(op, f"expected a list, got {type(data).__name__}")
        return [self._parse(op, model, item) for item in data]

    def _get_json(self, op: Operation, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._bad_response(op, "not JSON") from None

    async def _one(
        self,
        op: Operation,
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        **path: str | int,
    ) -> M:
        response = await self._send(op, params=params, json=json, **path)
        return self._parse(op, model, self._get_json(op, response))

    async def _many(
        self,
        op: Operation,
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        **path: str | int,
    ) -> list[M]:
        """An unpaginated list endpoint (Gitea returns everything in one response)."""
        response = await self._send(op, params=params, **path)
        return self._parse_list(op, model, self._get_json(op, response))

    async def paginate(
        self,
        op: Operation,
        model: type[M],
        *,
        params: Params | None = None,
        limit: int = MAX_LIMIT,
        **path: str | int,
    ) -> AsyncIterator[M]:
        """Every item of a paginated GET list endpoint, fetched page by page."""
        async for item in self._iter(op, model, params, limit, path):
            yield item

    async def _iter(
        self,
        op: Operation,
        model: type[M],
        params: Params | None,
        limit: int,
        path: Mapping[str, str | int],
    ) -> AsyncIterator[M]:
        async def send(query: Params) -> httpx.Response:
            return await self._send(op, params=query, **path)

        try:
            async for item in paginate(send, params, limit):
                yield self._parse(op, model, item)
        except ValueError as exc:
            raise self._bad_response(op, str(exc)) from None

    async def _collect(
        self, op: Operation, model: type[M], *, params: Params | None = None, **path: str | int
    ) -> list[M]:
        return [item async for item in self._iter(op, model, params, MAX_LIMIT, path)]
