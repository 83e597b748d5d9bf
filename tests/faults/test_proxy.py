"""The fault proxy on its own: each fault kind, budgets, determinism, streaming, rewriting,
and git's smart HTTP through it (a lost push that happened anyway)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from devstack.faults import FaultPlan, FaultProxy, FaultRule, running_proxy
from devstack.forge.testing import api_call, push_files, run_git, running_forge, seed_repo


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An upstream that records every write and answers with links to itself."""
    writes: list[bytes] = []
    base = ""

    async def write(request: web.Request) -> web.Response:
        writes.append(await request.read())
        return web.json_response({"url": f"{base}/things/{len(writes)}"}, status=201)

    async def echo(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        async for chunk in request.content.iter_any():
            await response.write(chunk)
        return response

    async def read(request: web.Request) -> web.Response:
        return web.json_response(
            {"self": f"{base}/things"}, headers={"Link": f'<{base}/things?page=2>; rel="next"'}
        )

    app = web.Application()
    app.router.add_post("/things", write)
    app.router.add_post("/echo", echo)
    app.router.add_get("/things", read)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield base, writes
    await runner.cleanup()


async def test_fail_answers_without_forwarding_and_its_budget_runs_out(
    upstream: tuple[str, list[bytes]],
) -> None:
    base, writes = upstream
    plan = FaultPlan([FaultRule("fail", "/things", ("POST",), count=2, status=429, retry_after=1)])
    async with FaultProxy(base, plan).serving() as proxy, httpx.AsyncClient() as http:
        answers = [await http.post(f"{proxy.url}/things", content=b"x") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "1"
    assert writes == [b"x"]
    assert [f.kind for f in proxy.faults] == ["fail", "fail"]


async def test_lose_does_the_write_and_drops_the_answer(upstream: tuple[str, list[bytes]]) -> None:
    base, writes = upstream
    plan = FaultPlan([FaultRule("lose", "/things$", ("POST",))])
    async with FaultProxy(base, plan).serving() as proxy, httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError):
            await http.post(f"{proxy.url}/things", content=b"once")
        assert writes == [b"once"]  # it happened; the client cannot know
        assert (await http.post(f"{proxy.url}/things", content=b"twice")).status_code == 201
    (lost,) = proxy.faults
    assert lost.kind == "lose" and lost.status == 201


async def test_reset_and_stall_never_reach_the_upstream(upstream: tuple[str, list[bytes]]) -> None:
    base, writes = upstream
    plan = FaultPlan(
        [FaultRule("reset", methods=("POST",)), FaultRule("stall", stall_seconds=5, count=1)]
    )
    async with FaultProxy(base, plan).serving() as proxy, httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError):
            await http.post(f"{proxy.url}/things", content=b"reset")
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            await http.post(f"{proxy.url}/things", content=b"stalled", timeout=0.5)
        assert time.monotonic() - started < 2
        assert (await http.post(f"{proxy.url}/things", content=b"ok")).status_code == 201
    assert writes == [b"ok"]
    assert [f.kind for f in proxy.faults] == ["reset", "stall"]


async def test_late_lands_the_write_after_the_client_gave_up(
    upstream: tuple[str, list[bytes]],
) -> None:
    base, writes = upstream
    plan = FaultPlan([FaultRule("late", "/things$", ("POST",), stall_seconds=1.0)])
    async with FaultProxy(base, plan).serving() as proxy, httpx.AsyncClient() as http:
        with pytest.raises(httpx.TimeoutException):
            await http.post(f"{proxy.url}/things", content=b"late", timeout=0.3)
        assert (await http.post(f"{proxy.url}/things", content=b"retry")).status_code == 201
        assert proxy.in_flight == 1
        while proxy.in_flight:
            await asyncio.sleep(0.05)
    assert writes == [b"retry", b"late"]  # the retry could not see the write in flight
    (late,) = proxy.faults
    assert late.kind == "late" and late.status == 201


def test_the_same_seed_meets_the_same_faults() -> None:
    rules = [FaultRule("fail", rate=0.3, count=None), FaultRule("lose", rate=0.5, count=4)]
    requests = [("POST" if i % 3 else "GET", f"/p/{i}") for i in range(60)]

    def decisions(seed: int) -> list[int | None]:
        plan = FaultPlan(rules, seed=seed)
        return [(d[0] if (d := plan.decide(m, p)) else None) for m, p in requests]

    assert decisions(7) == decisions(7)
    assert decisions(7) != decisions(8)
    assert decisions(7).count(1) <= 4
    plan = FaultPlan(rules, seed=1, max_faults=3)
    assert sum(plan.decide(m, p) is not None for m, p in requests) == 3


async def test_bodies_stream_through_and_origins_are_rewritten(
    upstream: tuple[str, list[bytes]],
) -> None:
    base, _ = upstream
    big = bytes(range(256)) * 8192  # 2 MiB, sent chunked

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    async with FaultProxy(base, rewrite_origin=True).serving() as proxy, httpx.AsyncClient() as h:
        echoed = await h.post(f"{proxy.url}/echo", content=chunks())
        listed = await h.get(f"{proxy.url}/things")
    assert echoed.content == big
    assert listed.json() == {"self": f"{proxy.url}/things"}
    assert listed.headers["Link"] == f'<{proxy.url}/things?page=2>; rel="next"'


@pytest.mark.e2e
def test_git_through_the_proxy_a_lost_push_happened(tmp_path: Path) -> None:
    with running_forge(tmp_path / "forge") as forge:
        seed_repo(forge, forge.admin, "demo", {"README.md": "# demo\n"})
        plan = FaultPlan([FaultRule("lose", r"\.git/git-receive-pack$", ("POST",))])
        with running_proxy(forge.base_url, plan, rewrite_origin=True) as proxy:
            _, repo = api_call(f"{proxy.url}/api/v1", "GET", f"/repos/{forge.admin}/demo")
            assert repo["clone_url"] == f"{proxy.url}/{forge.admin}/demo.git"
            work = tmp_path / "work"
            run_git("clone", "-q", repo["clone_url"], str(work), token=forge.token)
            (work / "a.txt").write_text("a\n")
            run_git("add", "a.txt", cwd=work)
            run_git("commit", "-qm", "a", cwd=work)
            with pytest.raises(RuntimeError, match="push"):
                run_git("push", "-q", "origin", "HEAD:refs/heads/lost", cwd=work, token=forge.token)
            branches = {b["name"] for b in forge.api("GET", f"/repos/{forge.admin}/demo/branches")}
            assert "lost" in branches  # the push happened; git was told it failed
            sha = push_files(forge, forge.admin, "demo", "lost", {"b.txt": "b\n"})
            assert len(sha) == 40
        assert [f.kind for f in proxy.faults] == ["lose"]


async def test_routes_share_one_address_with_plans_of_their_own(
    upstream: tuple[str, list[bytes]],
) -> None:
    base, writes = upstream
    async with FaultProxy(base, rewrite_origin=True).serving() as proxy, httpx.AsyncClient() as h:
        a = proxy.route("run-a", FaultPlan([FaultRule("fail", "^/things$", ("POST",))]))
        b = proxy.route("run-b", FaultPlan())
        assert a.url == f"{proxy.url}/run-a"
        assert (await h.post(f"{a.url}/things", content=b"a")).status_code == 503
        assert (await h.post(f"{b.url}/things", content=b"b")).json() == {
            "url": f"{b.url}/things/1"
        }
        assert (await h.get(f"{a.url}/things?x=1")).json() == {"self": f"{a.url}/things"}
    assert writes == [b"b"]
    assert [(s.method, s.path) for s in a.seen] == [("POST", "/things"), ("GET", "/things?x=1")]
    assert [f.kind for f in a.faults] == ["fail"] and not b.faults and not proxy.seen
