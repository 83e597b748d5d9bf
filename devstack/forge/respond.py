"""How the forge answers, the way Gitea does: JSON content type, error bodies, body binding,
and pagination headers (gitea-notes §0 and §3)."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

JSON_TYPE = "application/json;charset=utf-8"
DEFAULT_PAGE_SIZE = 30  # [api] DEFAULT_PAGING_NUM
MAX_PAGE_SIZE = 50  # [api] MAX_RESPONSE_ITEMS


class ApiError(Exception):
    """An answer other than success; turned into Gitea's JSON error body by the middleware."""

    def __init__(self, status: int, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class NotFound(ApiError):
    def __init__(self, detail: str | None = None) -> None:
        super().__init__(404, "not found", [detail] if detail else None)


def error_body(err: ApiError, swagger_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {"message": err.message, "url": swagger_url}
    if err.status == 404:
        body["errors"] = err.errors  # APIErrorNotFound always carries `errors` (maybe null)
    return body


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def empty(status: int = 204) -> web.Response:
    return web.Response(status=status)


# --- request bodies ---------------------------------------------------------------------------


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body, or 422 like Gitea's binding (empty body = {})."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return body


def _typed(body: dict[str, Any], key: str, kind: type | tuple[type, ...], label: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise ApiError(422, f"[{key}]: must be {label}")
    if not isinstance(value, kind):
        raise ApiError(422, f"[{key}]: must be {label}")
    return value


def opt_str(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = _typed(body, key, str, "a string")
    return default if value is None else str(value)


def req_str(body: dict[str, Any], key: str) -> str:
    value = opt_str(body, key)
    if value is None or not value.strip():
        raise ApiError(422, f"[{key}]: Required")
    return value


def opt_bool(body: dict[str, Any], key: str) -> bool | None:
    value = _typed(body, key, bool, "a boolean")
    return None if value is None else bool(value)


def opt_list(body: dict[str, Any], key: str) -> list[Any] | None:
    value = _typed(body, key, list, "an array")
    return None if value is None else list(value)


def path_int(request: web.Request, name: str) -> int:
    """An int64 path parameter; anything else is simply not found, as in Gitea's router."""
    raw = request.match_info[name]
    if not raw.isdigit() or int(raw) >= 2**63:
        raise NotFound(f"invalid {name} {raw!r}")
    return int(raw)


# --- pagination -------------------------------------------------------------------------------


def page_args(request: web.Request) -> tuple[int, int]:
    """(page, limit): limit <= 0 or absent -> 30, above 50 -> 50, page <= 0 -> 1."""

    def number(name: str) -> int:
        try:
            return int(request.query.get(name, "0"))
        except ValueError:
            return 0

    limit = number("limit")
    limit = DEFAULT_PAGE_SIZE if limit <= 0 else min(limit, MAX_PAGE_SIZE)
    return max(number("page"), 1), limit


def paginate(
    request: web.Request, items: list[Any], root_url: str, *, link: bool = True
) -> tuple[list[Any], dict[str, str]]:
    """One page of items plus X-Total-Count and (optionally) Gitea's Link header."""
    page, limit = page_args(request)
    total = len(items)
    headers = {"X-Total-Count": str(total)}
    expose = ["X-Total-Count"]
    if link:
        links = link_header(request, root_url, total, limit, page)
        if links:
            headers["Link"] = links
            expose.insert(0, "Link")
    headers["Access-Control-Expose-Headers"] = ", ".join(expose)
    return items[(page - 1) * limit : page * limit], headers


def link_header(request: web.Request, root_url: str, total: int, size: int, page: int) -> str:
    """genAPILinks: next, last, first, prev — each only when it applies, joined by ','."""
    pages = 1 if total == 0 else math.ceil(total / size)
    current = min(page, pages)
    has_next = total > current * size
    is_last = total == 0 or (total > (current - 1) * size and not has_next)
    entries = []
    if has_next:
        entries.append((current + 1, "next"))
    if not is_last:
        entries.append((pages, "last"))
    if current != 1:
        entries.append((1, "first"))
    if current > 1:
        entries.append((current - 1, "prev"))
    return ",".join(
        f'<{root_url}{request.path.lstrip("/")}?{_query_with_page(request, n)}>; rel="{rel}"'
        for n, rel in entries
    )


def _query_with_page(request: web.Request, page: int) -> str:
    # Go's url.Values.Encode: keys sorted, values kept in order.
    pairs = [(k, v) for k, v in request.query.items() if k != "page"] + [("page", str(page))]
    pairs.sort(key=lambda kv: kv[0])
    return urlencode(pairs)
