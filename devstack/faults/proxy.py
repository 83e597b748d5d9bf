"""A fault-injecting reverse proxy on loopback, in front of one upstream (forge or model).

Requests the plan leaves alone are forwarded with their bodies streamed both ways (git's smart
HTTP included). With ``rewrite_origin`` the upstream's own origin in textual answers and in
``Location``/``Link`` headers becomes the proxy's, as a Gitea behind a proxy with its
``ROOT_URL`` set to the public address would answer: clone URLs then lead through the proxy
too, so git traffic can be faulted, and a client's token (sent only to its configured forge)
goes along.

A proxy carries one plan at its root, and any number of ROUTES: ``proxy.route("run-7", plan)``
serves the upstream again under ``<proxy.url>/run-7`` (the prefix is stripped on the way up
and added to rewritten URLs on the way back, as for a Gitea at a sub-path) with a plan and
record of its own. Many clients can so share one proxy, one address, and still each meet
their own faults.

    with running_proxy(forge.base_url, FaultPlan([FaultRule("lose", "/pulls$")]),
                       rewrite_origin=True) as proxy:
        ...  # point the worker at proxy.url; proxy.faults says what was injected

The server runs on its own event loop in a thread, so a busy test loop never delays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from devstack.faults.plan import Fault, FaultPlan, FaultRule

# Headers of one hop (RFC 9110 7.6.1), never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_TEXTUAL = re.compile(r"json|text|xml|javascript", re.IGNORECASE)
_REWRITTEN_HEADERS = ("location", "link", "content-location")
_FAIL_BODY = '{"message": "injected fault: HTTP %d", "error": {"message": "injected fault"}}'
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Seen:
    """One request the proxy received (its path without the route's prefix)."""

    method: str
    path: str
    fault: str | None  # the kind injected, if any


@dataclass
class Route:
    """A plan and the record of what passed: the proxy's root, or one prefix below it."""

    prefix: str  # "" for the root
    plan: FaultPlan
    base: str = ""  # the proxy's URL for this route (no trailing '/')
    _seen: list[Seen] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _writes: set[asyncio.Future[None]] = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return self.base

    @property
    def faults(self) -> list[Fault]:
        return self.plan.faults

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    @property
    def in_flight(self) -> int:
        """Lost and late writes not yet done upstream (a run's evidence waits for them)."""
        return len(self._writes)

    def count(self, path: str = "", methods: tuple[str, ...] = ()) -> int:
        """Requests received so far whose path?query matches ``path`` (and method)."""
        probe = FaultRule("fail", path, methods)
        return sum(probe.matches(s.method, s.path) for s in self.seen)

    def note(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)


def origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


class FaultProxy:
    def __init__(
        self, upstream: str, plan: FaultPlan | None = None, *, rewrite_origin: bool = False
    ) -> None:
        self.upstream = origin(upstream)
        self.rewrite_origin = rewrite_origin
        self.root = Route("", plan or FaultPlan())
        self._routes: dict[str, Route] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._held: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return self.root.base

    def route(self, prefix: str, plan: FaultPlan) -> Route:
        """Serve the upstream under ``<url>/<prefix>`` with ``plan`` (thread-safe)."""
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"a route prefix is one path segment, not {prefix!r}")
        route = Route(prefix, plan, f"{self.url}/{prefix}")
        if self._routes.setdefault(prefix, route) is not route:
            raise ValueError(f"route {prefix!r} exists already")
        return route

    # ----- the root route's record -----------------------------------------------------------

    @property
    def plan(self) -> FaultPlan:
        return self.root.plan

    @property
    def faults(self) -> list[Fault]:
        return self.root.faults

    @property
    def seen(self) -> list[Seen]:
        return self.root.seen

    @property
    def in_flight(self) -> int:
        return self.root.in_flight

    def count(self, path: str = "", methods: tuple[str, ...] = ()) -> int:
        return self.root.count(path, methods)

    # ----- serving ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=1 << 30)  # lose/late read a whole body
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (its timeout) ends a held request.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.root.base = f"http://{host}:{self._runner.addresses[0][1]}"
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self.url

    async def stop(self) -> None:
        writes = [w for r in (self.root, *self._routes.values()) for w in r._writes]
        for task in [*self._held, *writes]:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @contextlib.asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FaultProxy]:
        """The proxy on the caller's own event loop."""
        await self.start(host, port)
        try:
            yield self
        finally:
            await self.stop()

    # ----- one request -----------------------------------------------------------------------

    def _route_of(self, request: web.Request) -> tuple[Route, str]:
        """The request's route and its raw path?query below it."""
        raw = request.raw_path
        first, slash, rest = raw[1:].partition("/")
        name = first.split("?", 1)[0]
        route = self._routes.get(name)
        if route is None:
            return self.root, raw
        return route, "/" + (rest if slash else first[len(name) :])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route, path = self._route_of(request)
        method = request.method
        decision = route.plan.decide(method, path)
        route.note(Seen(method, path, decision[1].kind if decision else None))
        if decision is None:
            return await self._forward(request, route, path)
        index, rule = decision
        if rule.kind == "fail":
            route.plan.record(index, method, path, rule.status)
            return _failure(rule)
        if rule.kind in ("lose", "late"):
            # The upstream finishes the write even if the client gives up meanwhile.
            body = await request.read()
            delay = rule.stall_seconds if rule.kind == "late" else 0.0
            write = asyncio.ensure_future(self._write(request, route, path, index, body, delay))
            route._writes.add(write)
            write.add_done_callback(route._writes.discard)
            await asyncio.shield(write)
        else:
            route.plan.record(index, method, path)
            if rule.kind == "stall":
                await self._hold(rule.stall_seconds)
        _reset(request)
        return web.Response()  # written to a closed connection: aiohttp drops it quietly

    async def _hold(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._held.add(task)  # type: ignore[arg-type]
        try:
            await asyncio.sleep(seconds)
        finally:
            self._held.discard(task)  # type: ignore[arg-type]

    def _upstream(
        self, request: web.Request, path: str, body: bytes | None = None
    ) -> aiohttp.client._RequestContextManager:
        assert self._session is not None, "the proxy is not started"
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        data = body if body is not None else request.content if request.body_exists else None
        return self._session.request(
            request.method, self.upstream + path, headers=headers, data=data, allow_redirects=False
        )

    async def _write(
        self, request: web.Request, route: Route, path: str, index: int, body: bytes, delay: float
    ) -> None:
        """After ``delay``, forward and read the whole answer (the upstream did the work)."""
        await asyncio.sleep(delay)
        async with self._upstream(request, path, body) as upstream:
            await upstream.read()
        route.plan.record(index, request.method, path, upstream.status)

    async def _forward(self, request: web.Request, route: Route, path: str) -> web.StreamResponse:
        async with self._upstream(request, path) as upstream:
            headers = CIMultiDict(
                (k, self._rewrite(v, route) if k.lower() in _REWRITTEN_HEADERS else v)
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP
            )
            if self._rewrites(upstream):
                body = self._rewrite((await upstream.read()).decode(), route).encode()
                headers.popall("Content-Length", None)
                return web.Response(status=upstream.status, headers=headers, body=body)
            response = web.StreamResponse(status=upstream.status, headers=headers)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    def _rewrites(self, upstream: aiohttp.ClientResponse) -> bool:
        return (
            self.rewrite_origin
            and "Content-Encoding" not in upstream.headers
            and bool(_TEXTUAL.search(upstream.headers.get("Content-Type", "")))
        )

    def _rewrite(self, text: str, route: Route) -> str:
        if not self.rewrite_origin or not route.base:
            return text
        return text.replace(self.upstream, route.base)


def _failure(rule: FaultRule) -> web.Response:
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    return web.Response(
        status=rule.status,
        headers=headers,
        text=_FAIL_BODY % rule.status,
        content_type="application/json",
    )


def _reset(request: web.Request) -> None:
    """Close the client's connection at once with a TCP RST, not an orderly FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@contextlib.contextmanager
def running_proxy(
    upstream: str,
    plan: FaultPlan | None = None,
    *,
    rewrite_origin: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[FaultProxy]:
    """A proxy serving on a thread of its own until the block ends; ``.url`` is its address."""
    proxy = FaultProxy(upstream, plan, rewrite_origin=rewrite_origin)
    loop = asyncio.new_event_loop()
    started: Future[str] = Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(proxy.start(host, port)))
        except BaseException as err:  # reported to the caller below
            started.set_exception(err)
            return
        loop.run_forever()

    thread = threading.Thread(target=serve, name=f"fault-proxy-{upstream}", daemon=True)
    thread.start()
    try:
        started.result(timeout=30)
        yield proxy
    finally:
        if started.done() and started.exception() is None:
            asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
