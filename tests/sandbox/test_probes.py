"""Hostile probes through the REAL sandbox: each must fail, and fail in the expected way.

Every probe is ``tests/sandbox/probes.py`` run by the sandbox's ``python3`` in a git checkout;
the control probe shows that the sandbox does run code and can write in the checkout, so a
sandbox that ran nothing would fail these tests instead of passing them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.sandbox import Sandbox
from domain.sandbox import SANDBOX_CHECKOUT
from tests.sandbox.conftest import gone, probe, run_in

ENOENT = "FileNotFoundError ENOENT"
EROFS = "OSError EROFS"


async def test_control_probe_runs_code_and_writes_in_the_checkout(
    sandbox: Sandbox, checkout: Path
) -> None:
    result = await run_in(sandbox, checkout, ["python3", "probes.py", "control"])
    assert result.exit_code == 0 and "RESULT ok" in result.output
    assert (checkout / "control.txt").read_text() == "probe\n"
    uid = int(result.output.split("uid ", 1)[1].split()[0])
    assert uid != 0  # never root inside
    if os.geteuid() == 0:
        # a root worker hands the code to a sandbox user of the pool
        first, size = sandbox.settings.uid, sandbox.settings.uid_pool_size
        assert first <= uid < first + size


async def test_cannot_read_the_workers_environ(sandbox: Sandbox, checkout: Path) -> None:
    assert await probe(sandbox, checkout, "read", f"/proc/{os.getpid()}/environ") == ENOENT


async def test_cannot_read_the_forge_token_file(
    sandbox: Sandbox, checkout: Path, tmp_path: Path
) -> None:
    token = tmp_path / "state" / "forge" / "token"
    token.parent.mkdir(parents=True)
    token.write_text("forge-secret\n")
    assert await probe(sandbox, checkout, "read", str(token)) == ENOENT
    assert await probe(sandbox, checkout, "listdir", str(tmp_path)) == ENOENT


async def test_cannot_see_other_checkouts(sandbox: Sandbox, checkout: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-run"
    other.mkdir()
    (other / "app.py").write_text("secret = 1\n")
    assert await probe(sandbox, checkout, "read", str(other / "app.py")) == ENOENT
    result = await run_in(sandbox, checkout, ["ls", "/autopilot"])
    assert result.output.split() == ["src"]


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


async def test_cannot_reach_a_loopback_port_of_the_host(
    sandbox: Sandbox, checkout: Path, listener: int
) -> None:
    outcome = await probe(sandbox, checkout, "connect", "127.0.0.1", str(listener))
    assert outcome == "ConnectionRefusedError ECONNREFUSED"


async def test_cannot_resolve_or_reach_an_external_address(
    sandbox: Sandbox, checkout: Path
) -> None:
    assert await probe(sandbox, checkout, "resolve", "pypi.org") == "gaierror EAI"
    assert await probe(sandbox, checkout, "connect", "1.1.1.1", "443") == "OSError ENETUNREACH"


async def test_cannot_write_outside_the_checkout(
    sandbox: Sandbox, checkout: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    assert await probe(sandbox, checkout, "write", str(outside)) == ENOENT
    assert not outside.exists()
    assert await probe(sandbox, checkout, "write", "/usr/autopilot-probe") == EROFS
    assert await probe(sandbox, checkout, "write", "/etc/autopilot-probe") == EROFS
    # The checkout's git metadata is read-only: a planted hook or config would run in the worker.
    assert await probe(sandbox, checkout, "write", f"{SANDBOX_CHECKOUT}/.git/config") == EROFS


async def test_cannot_write_the_environment_while_testing(
    sandbox: Sandbox, checkout: Path, tmp_path: Path
) -> None:
    environment = tmp_path / "env"
    environment.mkdir()
    result = await run_in(
        sandbox, checkout, ["python3", "probes.py", "write", "/autopilot/env/x"],
        environment=environment,
    )  # fmt: skip
    assert "RESULT OSError EROFS" in result.output
    setup = await run_in(
        sandbox, checkout, ["python3", "probes.py", "write", "/autopilot/env/x"],
        environment=environment, setup=True,
    )  # fmt: skip
    assert "RESULT ok" in setup.output and (environment / "x").exists()


async def test_cannot_fork_500_processes(sandbox: Sandbox, checkout: Path) -> None:
    result = await run_in(sandbox, checkout, ["python3", "probes.py", "fork", "500"])
    assert "RESULT BlockingIOError EAGAIN" in result.output
    forked = int(result.output.split("forked ", 1)[1].split()[0])
    assert forked < sandbox.settings.max_processes


async def test_cannot_allocate_4_gib(sandbox: Sandbox, checkout: Path) -> None:
    assert await probe(sandbox, checkout, "allocate", "4") == "MemoryError"


async def test_leaves_no_process_behind(sandbox: Sandbox, checkout: Path) -> None:
    token = f"linger-{secrets.token_hex(6)}"
    assert await probe(sandbox, checkout, "linger", token) == "ok"
    assert await gone(token)
    await asyncio.sleep(3)  # the detached process would have written by now
    assert not (checkout / "late.txt").exists()


async def test_cannot_read_ssh_keys_or_root(sandbox: Sandbox, checkout: Path) -> None:
    assert await probe(sandbox, checkout, "read", "~/.ssh/id_rsa") == ENOENT
    home = os.environ.get("HOME", "/root")
    assert await probe(sandbox, checkout, "listdir", f"{home}/.ssh") == ENOENT
    assert await probe(sandbox, checkout, "listdir", "/root") == ENOENT


async def test_sees_none_of_the_workers_variables(
    sandbox: Sandbox, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPILOT_FORGE_TOKEN", "planted-forge-token")
    monkeypatch.setenv("MY_SECRET", "planted-secret")
    monkeypatch.setenv("PYTHONPATH", "/planted")
    result = await run_in(Sandbox(sandbox.settings), checkout, ["env"])
    seen = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    assert "planted" not in result.output
    assert seen["HOME"] == "/tmp" and seen["PATH"] == "/usr/local/bin:/usr/bin:/bin"


async def test_limits_are_the_configured_ones(sandbox: Sandbox, checkout: Path) -> None:
    result = await run_in(sandbox, checkout, ["cat", "/proc/self/limits"])
    limits = {line[:26].strip(): line[26:].split() for line in result.output.splitlines()[1:]}
    settings = sandbox.settings
    assert limits["Max processes"][:2] == [str(settings.max_processes)] * 2
    assert limits["Max data size"][0] == str(settings.max_memory_mb * 1024 * 1024)
    assert limits["Max cpu time"][0] == str(settings.max_cpu_seconds)
    assert limits["Max open files"][0] == str(settings.max_open_files)
    assert limits["Max file size"][0] == str(settings.max_file_size_mb * 1024 * 1024)
