"""Pagination: Link rel="next", X-Total-Count, short pages, the 50-item cap."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from activities.forge.client import GiteaClient
from activities.forge.pagination import next_link
from tests.client import payloads

Handler = Callable[[httpx.Request], httpx.Response]


class PagedServer:
    """Serves ``total`` labels in pages of at most ``cap`` (Gitea's MAX_RESPONSE_ITEMS)."""

    def __init__(
        self,
        total: int,
        *,
        cap: int = 50,
        link: bool = True,
        total_header: bool = True,
        root: str = "http://public.example/api/v1",
    ) -> None:
        self.total, self.cap, self.link, self.total_header, self.root = (
            total,
            cap,
            link,
            total_header,
            root,
        )
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        query = parse_qs(request.url.query.decode())
        page = max(1, int(query.get("page", ["1"])[0]))
        limit = min(int(query.get("limit", ["30"])[0]), self.cap)
        start = (page - 1) * limit
        items = [
            payloads.label(i + 1, f"label-{i + 1}")
            for i in range(start, min(start + limit, self.total))
        ]
        headers: dict[str, str] = {}
        if self.total_header:
            headers["X-Total-Count"] = str(self.total)
        if self.link:
            last = max(1, -(-self.total // limit))
            links = []
            base = f"{self.root}{request.url.path.removeprefix('/api/v1')}"
            if page < last:
                links.append(f'<{base}?limit={limit}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?limit={limit}&page={last}>; rel="last"')
            if page > 1:
                links.append(f'<{base}?limit={limit}&page=1>; rel="first"')
            headers["Link"] = ",".join(links)
        return httpx.Response(200, json=items, headers=headers)


async def list_all(server: PagedServer) -> list[str]:
    async with GiteaClient("http://forge.test", "tok", transport=httpx.MockTransport(server)) as c:
        return [label.name for label in await c.list_labels("acme", "app")]


def pages_requested(server: PagedServer) -> list[str]:
    return [parse_qs(r.url.query.decode())["page"][0] for r in server.requests]


@pytest.mark.parametrize("total", [0, 1, 49, 50, 51, 120, 150])
async def test_follows_link_next_through_every_page(total: int) -> None:
    server = PagedServer(total)
    names = await list_all(server)
    assert names == [f"label-{i}" for i in range(1, total + 1)]
    expected_pages = max(1, -(-total // 50))
    assert len(server.requests) == expected_pages


async def test_link_host_is_not_trusted_only_its_query() -> None:
    # ROOT_URL may name a host we cannot (or must not) reach with our token.
    server = PagedServer(120, root="http://elsewhere.invalid/api/v1")
    assert len(await list_all(server)) == 120
    assert {r.url.host for r in server.requests} == {"forge.test"}


async def test_requests_limit_50_and_follows_pages_in_order() -> None:
    server = PagedServer(120)
    await list_all(server)
    assert {parse_qs(r.url.query.decode())["limit"][0] for r in server.requests} == {"50"}
    assert pages_requested(server) == ["1", "2", "3"]


@pytest.mark.parametrize("total", [0, 50, 100, 101])
async def test_without_link_uses_total_count(total: int) -> None:
    server = PagedServer(total, link=False)
    assert len(await list_all(server)) == total
    # With a known total no extra empty page is fetched after an exact multiple of 50.
    assert len(server.requests) == max(1, -(-total // 50))


async def test_server_cap_below_limit_is_handled_with_total_count() -> None:
    # MAX_RESPONSE_ITEMS set to 20: pages are "short" but the total says there is more.
    server = PagedServer(45, cap=20, link=False)
    assert len(await list_all(server)) == 45
    assert pages_requested(server) == ["1", "2", "3"]


@pytest.mark.parametrize("total", [0, 7, 50, 99])
async def test_without_any_header_stops_on_short_page(total: int) -> None:
    server = PagedServer(total, link=False, total_header=False)
    assert len(await list_all(server)) == total
    assert len(server.requests) == total // 50 + 1


async def test_query_filters_survive_following_links() -> None:
    server = PagedServer(60)

    def issues(request: httpx.Request) -> httpx.Response:
        response = server(request)
        body = [payloads.issue(label["id"]) for label in response.json()]
        return httpx.Response(200, json=body, headers=response.headers)

    async with GiteaClient("http://forge.test", "t", transport=httpx.MockTransport(issues)) as c:
        found = await c.list_issues("acme", "app", state="all", labels=["bug", "ui"])
    assert len(found) == 60
    first = parse_qs(server.requests[0].url.query.decode())
    assert first["state"] == ["all"]
    assert first["labels"] == ["bug,ui"]
    assert first["type"] == ["issues"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<http://h/a?page=2>; rel="next",<http://h/a?page=5>; rel="last"', "http://h/a?page=2"),
        ('<http://h/a?page=5>; rel="last",<http://h/a?page=1>; rel="first"', None),
        ('<http://h/a?page=3>; rel="next"', "http://h/a?page=3"),
        ("<http://h/a?page=4>; rel=next", "http://h/a?page=4"),
        ("", None),
        ("garbage", None),
    ],
)
def test_next_link_parsing(header: str, expected: str | None) -> None:
    assert next_link(header) == expected


async def test_comments_are_fetched_in_one_unpaginated_request() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = [payloads.comment(i, f"c{i}") for i in range(1, 80)]
        return httpx.Response(200, json=body, headers={"X-Total-Count": "79"})

    async with GiteaClient("http://forge.test", "t", transport=httpx.MockTransport(answer)) as c:
        comments = await c.list_comments("acme", "app", 3)
    assert len(comments) == 79
    assert len(seen) == 1
    assert seen[0].url.query == b""
