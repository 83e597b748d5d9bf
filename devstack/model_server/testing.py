"""Run the replay model server as a subprocess, for tests and the local stack."""

from __future__ import annotations

import contextlib
import re
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_READY = re.compile(r"model server listening on (http://\S+)")


@contextlib.contextmanager
def running_model_server(
    scenario: Path | None = None,
    port: int | None = None,
    ready_timeout: float = 20.0,
    *,
    gold_patches: Path | None = None,
    cases: Path | None = None,
    repo: Path | None = None,
) -> Iterator[str]:
    """Yield the base URL ``http://127.0.0.1:P/v1`` of a running server; stop it afterwards.

    Without ``port`` the server binds port 0 and reports the port it got, so there is no
    race between choosing a free port and binding it. ``gold_patches``, or ``cases`` with
    ``repo``, add gold-patch play (see ``python -m devstack.model_server --help``).
    """
    command = [sys.executable, "-m", "devstack.model_server", "--host", "127.0.0.1"]
    command += ["--port", str(port or 0)]
    for flag, value in (
        ("--scenario", scenario),
        ("--gold-patches", gold_patches),
        ("--cases", cases),
        ("--repo", repo),
    ):
        if value is not None:
            command += [flag, str(value)]
    # stderr goes to a file: a pipe nobody reads would fill up and stall the server.
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            command, cwd=_PROJECT_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            yield _wait_ready(process, stderr, ready_timeout)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _wait_ready(process: subprocess.Popen[str], stderr: IO[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = process.stdout.readline()
            if not line:  # stdout closed: the server exited
                process.wait(timeout=5)
                stderr.seek(0)
                raise RuntimeError(
                    f"model server exited with {process.returncode}: {stderr.read().strip()}"
                )
            ready = _READY.search(line)
            if ready:
                return ready.group(1)
    raise RuntimeError(f"model server not ready within {timeout:.0f}s")
