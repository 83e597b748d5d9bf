"""Suite-wide hooks.

temporalio's Rust bridge can abort the interpreter at exit (SIGABRT/SIGSEGV) after every test
has passed. The suite's result must not depend on that, so once pytest has reported, the
process exits with pytest's own status without running interpreter teardown.
"""

from __future__ import annotations

import os
import sys

import pytest

_exit_status: int | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status is None or os.environ.get("AUTOPILOT_PYTEST_NORMAL_EXIT"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
