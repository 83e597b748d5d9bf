"""Walk Gitea's paginated list endpoints.

Gitea caps ``limit`` at ``[api] MAX_RESPONSE_ITEMS`` (50 by default) and not every list sets
the same headers: issues and pulls send ``Link`` and ``X-Total-Count``, labels only
``X-Total-Count``. So: follow ``rel="next"`` when a ``Link`` header is present, otherwise
trust ``X-Total-Count``, otherwise stop on a short page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

MAX_LIMIT = 50
# A runaway guard: a server that keeps saying "next" must not loop forever.
MAX_PAGES = 1000

Params = dict[str, str | list[str]]
SendPage = Callable[[Params], Awaitable[httpx.Response]]


def next_link(link_header: str) -> str | None:
    """The URL tagged ``rel="next"`` in a ``Link`` header (Gitea joins entries with ',')."""
    for entry in link_header.split(","):
        url_part, _, attrs = entry.partition(";")
        url = url_part.strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        rels = [a.strip() for a in attrs.split(";")]
        if any(r.replace(" ", "") in ('rel="next"', "rel=next") for r in rels):
            return url[1:-1]
    return None


def _params_of(url: str) -> Params:
    """Query parameters of a next link, keeping repeated keys (e.g. ``labels=1&labels=2``)."""
    params: Params = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        existing = params.get(key)
        if existing is None:
            params[key] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            params[key] = [existing, value]
    return params


def _total_count(response: httpx.Response) -> int | None:
    raw = response.headers.get("x-total-count")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def paginate(
    send: SendPage, params: Mapping[str, str | list[str]] | None = None, limit: int = MAX_LIMIT
) -> AsyncIterator[Any]:
    """Yield the raw JSON items of every page.

    ``send(params)`` performs one GET of the list path with the given query. Only the query of
    a ``next`` link is reused, not its host: Gitea builds it from ``ROOT_URL``, which may not be
    the address we reach the server on.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    query: Params = {k: v for k, v in (params or {}).items() if k not in ("page", "limit")}
    query.update({"page": "1", "limit": str(limit)})
    seen = 0
    for _ in range(MAX_PAGES):
        response = await send(query)
        items = response.json()
        if not isinstance(items, list):
            raise ValueError(f"expected a JSON list page, got {type(items).__name__}")
        for item in items:
            yield item
        seen += len(items)
        if not items:
            return
        link = response.headers.get("link")
        if link is not None:
            following = next_link(link)
            if following is None:
                return
            query = _params_of(following)
            continue
        total = _total_count(response)
        # The server may cap pages below our limit, so a known total beats the short-page rule.
        if (total is not None and seen >= total) or (total is None and len(items) < limit):
            return
        query = {**query, "page": str(int(str(query.get("page", "1"))) + 1)}
    raise RuntimeError(f"pagination did not end after {MAX_PAGES} pages")
