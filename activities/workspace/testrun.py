"""Running a repository's test command: scrubbed environment, own process group, bounded output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from domain.change import TestRun

OUTPUT_TAIL_CHARS = 20_000
_TRUNCATED = "[... output truncated ...]\n"
# Enough raw bytes for the char tail even if every char takes four bytes.
_KEEP_BYTES = OUTPUT_TAIL_CHARS * 4

_DENY_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "AUTOPILOT_")
# PYTHON* variables that change output or determinism, never which code runs (unlike
# PYTHONPATH, PYTHONSTARTUP or PYTHONHOME).
_SAFE_PYTHON = (
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONDONTWRITEBYTECODE",
)


def scrubbed_env(source: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """The environment a test run sees: nothing from the worker but what tests need."""
    env = {"PATH": source.get("PATH", os.defpath)}
    env["LANG"] = source.get("LANG", "C.UTF-8")
    if "LC_ALL" in source:
        env["LC_ALL"] = source["LC_ALL"]
    env |= {k: source[k] for k in _SAFE_PYTHON if k in source}
    env["PYTHONUNBUFFERED"] = "1"  # output arrives in order, and survives a kill
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env |= {"HOME": str(home), "TMPDIR": str(tmp)}
    return {k: v for k, v in env.items() if not any(w in k.upper() for w in _DENY_WORDS)}


class _Tail:
    """Keeps the last bytes of a stream without holding all of it."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = False

    def add(self, chunk: bytes) -> None:
        self._buf += chunk
        if len(self._buf) > _KEEP_BYTES:
            del self._buf[: len(self._buf) - _KEEP_BYTES]
            self.dropped = True

    def text(self) -> str:
        text = self._buf.decode("utf-8", errors="replace")
        if not self.dropped and len(text) <= OUTPUT_TAIL_CHARS:
            return text
        return _TRUNCATED + text[-(OUTPUT_TAIL_CHARS - len(_TRUNCATED)) :]


class _Run(asyncio.SubprocessProtocol):
    """Collects output and notices exit without waiting for the pipe to close: a process
    that escaped the group may hold the pipe long after the command itself has finished."""

    def __init__(self) -> None:
        self.tail = _Tail()
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.tail.add(bytes(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def run_command(
    argv: list[str],
    cwd: Path,
    timeout_seconds: float,
    heartbeat: Callable[[], None],
    heartbeat_interval: float = 5.0,
) -> TestRun:
    """Runs ``argv`` (no shell) and returns what happened; a failing command is a result.

    The command gets its own process group, which is killed when it ends, times out or the
    activity is cancelled, so that nothing it started outlives the activity.
    """
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="autopilot-test-") as scratch:
        try:
            transport, run = await loop.subprocess_exec(
                _Run,
                *argv,
                cwd=cwd,
                env=scrubbed_env(os.environ, Path(scratch)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
            return TestRun(
                passed=False,
                exit_code=127 if isinstance(e, FileNotFoundError) else 126,
                duration_seconds=round(time.monotonic() - started, 3),
                output_tail=f"cannot run {argv[0]!r}: {e.strerror}",
            )
        deadline = started + timeout_seconds
        try:
            finished = await _wait(run.exited, deadline, heartbeat, heartbeat_interval)
        finally:
            # Always, even after a normal exit: background processes must not outlive the run.
            _kill_group(transport.get_pid())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.exited.wait(), 5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.closed.wait(), 2)  # let the last output drain
            transport.close()
        output = run.tail.text()
        if not finished:
            output += f"\n[timed out after {timeout_seconds}s; process group killed]"
            output = output[-OUTPUT_TAIL_CHARS:]
        exit_code = transport.get_returncode() if finished else None
        return TestRun(
            passed=exit_code == 0,
            exit_code=exit_code,
            timed_out=not finished,
            duration_seconds=round(time.monotonic() - started, 3),
            output_tail=output,
        )


async def _wait(
    exited: asyncio.Event,
    deadline: float,
    heartbeat: Callable[[], None],
    interval: float,
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


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
