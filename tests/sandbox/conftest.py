"""Fixtures: the real sandbox (bubblewrap) and a git checkout for it to run in."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from activities.sandbox import ProcessResult, Sandbox, SandboxRequest
from domain.sandbox import SandboxSettings

PROBES = Path(__file__).with_name("probes.py")
PROBE_TIMEOUT_SECONDS = 60.0


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout holding the probe script."""
    path = tmp_path / "checkout"
    path.mkdir()
    env = {"PATH": os.environ.get("PATH", os.defpath), "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", str(path)], env=env, check=True)
    shutil.copy(PROBES, path / "probes.py")
    return path


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxSettings())


async def run_in(
    sandbox: Sandbox,
    checkout: Path,
    argv: list[str],
    *,
    environment: Path | None = None,
    setup: bool = False,
    timeout_seconds: float = PROBE_TIMEOUT_SECONDS,
) -> ProcessResult:
    request = SandboxRequest(argv=argv, checkout=checkout, environment=environment, setup=setup)
    return await sandbox.run(request, timeout_seconds=timeout_seconds, heartbeat=lambda: None)


async def probe(sandbox: Sandbox, checkout: Path, *args: str) -> str:
    """The probe's outcome line (``ok``, ``FileNotFoundError ENOENT``, ...)."""
    result = await run_in(sandbox, checkout, ["python3", "probes.py", *args])
    outcomes = [line for line in result.output.splitlines() if line.startswith("RESULT ")]
    assert outcomes, f"the probe printed no result: {result}"
    return outcomes[-1].removeprefix("RESULT ")


def processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def gone(token: str) -> bool:
    """Whether every process carrying ``token`` is gone (the kernel may take a moment)."""
    for _ in range(40):
        if not processes_with(token):
            return True
        await asyncio.sleep(0.05)
    return False
