"""Python source parses correctly from several activity threads at once."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.workspace import python_source

SOURCE = "\n".join(
    (Path(__file__).parents[2] / path).read_text()
    for path in ("activities/workspace/repo_map.py", "workflows/issue.py")
)


class _Cycle:
    """Garbage whose finalizer runs Python code, so a collection inside a parse can switch
    threads there, as a busy worker's garbage does."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        sum(range(50))


@pytest.fixture
def busy_interpreter() -> Iterator[None]:
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)


def test_concurrent_parses_all_succeed(busy_interpreter: None) -> None:
    # Plain ast.parse on CPython 3.11 fails here about once in ten parses.
    failures: list[BaseException] = []
    expected = len(python_source.parse(SOURCE).body)

    def parse_repeatedly() -> None:
        for _ in range(40):
            for _ in range(20):
                _Cycle()
            try:
                assert len(python_source.parse(SOURCE).body) == expected
            except (SystemError, AssertionError) as failure:
                failures.append(failure)

    threads = [threading.Thread(target=parse_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
