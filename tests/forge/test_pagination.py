"""Pagination exactly as gitea-notes §3: defaults, caps, X-Total-Count and the Link header."""

from __future__ import annotations

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from devstack.forge.respond import link_header
from devstack.forge.testing import RunningForge, seed_repo

ROOT = "http://forge.test/"
TOTAL = 53


@pytest.fixture(scope="module")
def issues_url(forge: RunningForge) -> str:
    seed_repo(forge, forge.admin, "many", {"README.md": "x\n"})
    for i in range(TOTAL):
        forge.api("POST", f"/repos/{forge.admin}/many/issues", {"title": f"issue {i}"})
    return f"{forge.api_url}/repos/{forge.admin}/many/issues"


def _get(forge: RunningForge, url: str, **params: str | int) -> httpx.Response:
    headers = {"Authorization": f"token {forge.token}"}
    resp = httpx.get(url, params=params or None, headers=headers)
    assert resp.status_code == 200
    return resp


def test_default_page_size_is_30(forge: RunningForge, issues_url: str) -> None:
    resp = _get(forge, issues_url)
    assert len(resp.json()) == 30 and resp.headers["X-Total-Count"] == str(TOTAL)


def test_limit_is_capped_at_50(forge: RunningForge, issues_url: str) -> None:
    assert len(_get(forge, issues_url, limit=500).json()) == 50
    assert len(_get(forge, issues_url, limit=0).json()) == 30


def test_page_zero_is_page_one(forge: RunningForge, issues_url: str) -> None:
    first = [i["number"] for i in _get(forge, issues_url, limit=5, page=1).json()]
    assert [i["number"] for i in _get(forge, issues_url, limit=5, page=0).json()] == first
    assert first == list(range(TOTAL, TOTAL - 5, -1))


def test_link_header_middle_page(forge: RunningForge, issues_url: str) -> None:
    resp = _get(forge, issues_url, state="open", limit=10, page=3)
    base = f"{forge.base_url}/api/v1/repos/{forge.admin}/many/issues"
    assert resp.headers["Link"] == ",".join(
        [
            f'<{base}?limit=10&page=4&state=open>; rel="next"',
            f'<{base}?limit=10&page=6&state=open>; rel="last"',
            f'<{base}?limit=10&page=1&state=open>; rel="first"',
            f'<{base}?limit=10&page=2&state=open>; rel="prev"',
        ]
    )
    assert "Link" in resp.headers["Access-Control-Expose-Headers"]


def test_walking_next_links_visits_everything(forge: RunningForge, issues_url: str) -> None:
    seen: list[int] = []
    url: str | None = f"{issues_url}?limit=7"
    for _ in range(20):  # 8 pages expected; never loop forever
        if url is None:
            break
        resp = _get(forge, url)
        seen += [i["number"] for i in resp.json()]
        links = dict(
            (part.split('rel="')[1].rstrip('"'), part.split(">")[0].lstrip("<"))
            for part in resp.headers.get("Link", "").split(",")
            if part
        )
        url = links.get("next")
    assert url is None
    assert sorted(seen) == list(range(1, TOTAL + 1))


@pytest.mark.parametrize(
    ("total", "size", "page", "rels"),
    [
        (0, 30, 1, []),
        (5, 30, 1, []),
        (10, 5, 1, [(2, "next"), (2, "last")]),
        (10, 5, 2, [(1, "first"), (1, "prev")]),
        (11, 5, 9, [(1, "first"), (2, "prev")]),  # past the end: clamped to the last page
    ],
)
def test_link_header_unit(total: int, size: int, page: int, rels: list[tuple[int, str]]) -> None:
    request = make_mocked_request("GET", f"/api/v1/x?page={page}&limit={size}")
    expected = ",".join(f'<{ROOT}api/v1/x?limit={size}&page={n}>; rel="{rel}"' for n, rel in rels)
    assert link_header(request, ROOT, total, size, page) == expected
