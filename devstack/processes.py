"""Detached helper processes of the embedded stack, tracked by pid files so a later
command (the next demo, ``make stop``) can find and stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class ProcessError(RuntimeError):
    """A stack process did not start; the message says why and where its log is."""


@dataclass
class BackgroundProcess:
    name: str
    argv: list[str]
    state_dir: Path
    ready_prefix: str  # the line the process prints once it serves
    env: Mapping[str, str] | None = None

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,  # survives the command that started it
            )
        self.pid_path.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_prefix in self.log_path.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise ProcessError(f"{self.name} exited: {self._log_tail()}")
            time.sleep(0.1)
        self.stop()
        raise ProcessError(f"{self.name} did not start in {timeout:.0f}s: {self._log_tail()}")

    def stop(self) -> bool:
        """Stop the process this state dir started; True if one was running."""
        pid = self.pid()
        self.pid_path.unlink(missing_ok=True)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        return True

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-5:]) + f" (log: {self.log_path})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True
