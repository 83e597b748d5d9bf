"""The suite's poller: returns the first accepted answer, fails by wall time with the last one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from tests.polling import eventually


def counter() -> tuple[list[int], Callable[[], Awaitable[int]]]:
    seen: list[int] = []

    async def probe() -> int:
        seen.append(len(seen) + 1)
        return seen[-1]

    return seen, probe


async def test_returns_the_first_answer_the_check_accepts() -> None:
    seen, probe = counter()
    assert await eventually(probe, lambda n: n >= 3, interval=0) == 3
    assert seen == [1, 2, 3]


async def test_times_out_by_wall_time_naming_what_and_the_last_answer() -> None:
    seen, probe = counter()
    started = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"the count not reached within 0.3 s .*last answer: \d+"
    ) as e:
        await eventually(
            probe,
            lambda n: False,
            timeout=0.3,
            interval=0.01,
            what=lambda: "the count",
        )
    assert 0.3 <= time.monotonic() - started < 5
    assert f"last answer: {seen[-1]}" in str(e.value)


async def test_a_hanging_probe_is_cut_off_at_the_deadline() -> None:
    async def hang() -> int:
        await asyncio.sleep(60)
        return 0

    with pytest.raises(AssertionError, match="no answer from the probe"):
        await eventually(hang, lambda n: True, timeout=0.2, what="a hanging probe")


async def test_the_probes_own_errors_are_not_swallowed() -> None:
    async def broken() -> int:
        raise TimeoutError("the probe's own")

    with pytest.raises(TimeoutError, match="the probe's own"):
        await eventually(broken, lambda n: True, timeout=5)
