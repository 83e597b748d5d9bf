"""The suite's one poller: wait, in real time, until a probe's answer passes a check.

Queries, ``describe`` calls, visibility listings and fakes' records are all read the same way:
call the probe, check its answer, sleep, repeat, and give up after a wall-clock timeout with the
last answer in the failure. Timeouts are generous on purpose: the suite runs on two loaded cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_NOTHING = object()  # no probe answered before the deadline


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    timeout: float = 30,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """Call ``probe`` until ``check`` accepts its answer, and return that answer.

    Bounded by wall time: after ``timeout`` seconds (a probe still in flight is cancelled) it
    raises ``AssertionError`` naming ``what`` (a string, or a function called only then, for
    context such as a log's tail) and the last answer. Exceptions from ``probe`` or ``check``
    are not swallowed: a probe that expects some (a server not up yet) catches them itself.
    """
    last: object = _NOTHING
    probes = 0
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            while True:
                answer = await probe()
                last, probes = answer, probes + 1
                if check(answer):
                    return answer
                await asyncio.sleep(interval)
    except TimeoutError:
        if not deadline.expired():
            raise  # the probe's own timeout, not ours
    described = what() if callable(what) else what
    seen = "no answer from the probe" if last is _NOTHING else f"last answer: {last!r}"
    raise AssertionError(
        f"{described or 'condition'} not reached within {timeout:g} s ({probes} probes); {seen}"
    )
