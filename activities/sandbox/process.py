"""One child process: its own session, heartbeats while it runs, a bounded output tail, and
the whole process group killed when it ends, times out or the caller is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

OUTPUT_TAIL_CHARS = 20_000
_TRUNCATED = "[... output truncated ...]\n"
_DRAIN_SECONDS = 2.0  # for the last output after the exit
_REAP_SECONDS = 5.0


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None  # None: timed out
    timed_out: bool
    duration_seconds: float
    output: str  # the tail of stdout+stderr


class _Tail:
    """Keeps the last bytes of a stream without holding all of it."""

    def __init__(self, chars: int) -> None:
        self._chars = chars
        self._keep = chars * 4  # enough raw bytes even if every char takes four
        self._buf = bytearray()
        self.dropped = False

    def add(self, chunk: bytes) -> None:
        self._buf += chunk
        if len(self._buf) > self._keep:
            del self._buf[: len(self._buf) - self._keep]
            self.dropped = True

    def text(self) -> str:
        text = self._buf.decode("utf-8", errors="replace")
        if not self.dropped and len(text) <= self._chars:
            return text
        return _TRUNCATED + text[-(self._chars - len(_TRUNCATED)) :]


class _Run(asyncio.SubprocessProtocol):
    """Collects output and notices exit without waiting for the pipe to close: a process
    that escaped the group may hold the pipe long after the command itself has finished."""

    def __init__(self, chars: int) -> None:
        self.tail = _Tail(chars)
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.tail.add(bytes(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_seconds: float,
    heartbeat: Callable[[], None],
    heartbeat_interval: float = 5.0,
    tail_chars: int = OUTPUT_TAIL_CHARS,
) -> ProcessResult:
    """Runs ``argv`` (no shell) and returns what happened; a failing command is a result."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        transport, run = await loop.subprocess_exec(
            lambda: _Run(tail_chars),
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
        return ProcessResult(
            exit_code=127 if isinstance(e, FileNotFoundError) else 126,
            timed_out=False,
            duration_seconds=round(time.monotonic() - started, 3),
            output=f"cannot run {argv[0]!r}: {e.strerror}",
        )
    try:
        finished = await _wait(run.exited, started + timeout_seconds, heartbeat, heartbeat_interval)
    finally:
        # Always, even after a normal exit: nothing it started may outlive the call.
        kill_group(transport.get_pid())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.exited.wait(), _REAP_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.closed.wait(), _DRAIN_SECONDS)
        transport.close()
    output = run.tail.text()
    if not finished:
        output += f"\n[timed out after {timeout_seconds:g}s; every process it started was killed]"
        output = output[-tail_chars:]
    return ProcessResult(
        exit_code=transport.get_returncode() if finished else None,
        timed_out=not finished,
        duration_seconds=round(time.monotonic() - started, 3),
        output=output,
    )


async def _wait(
    exited: asyncio.Event, deadline: float, heartbeat: Callable[[], None], interval: float
) -> bool:
    """Waits for the exit while heartbeating; False when the deadline passed first."""
    while True:
        heartbeat()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exited.wait(), min(interval, remaining))
            return True


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
