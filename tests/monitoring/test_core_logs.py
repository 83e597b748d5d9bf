"""Temporal's Rust-core log lines come out as the same JSON lines as everything else."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.monitoring import core_logs_probe
from workers.telemetry import CORE_LOGGER

ANSI_ESCAPE = "\x1b["
ROOT = Path(__file__).resolve().parents[2]


def core_lines(captured: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == CORE_LOGGER]


async def test_core_lines_are_forwarded_as_json() -> None:
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        core_logs_probe.__name__,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(probe.communicate(), timeout=120)
    captured = err.decode()
    assert probe.returncode == 0, captured[-2000:]

    assert ANSI_ESCAPE not in captured
    lines = core_lines(captured)  # every line parsed as JSON on the way
    assert lines, captured[-2000:]
    started = [line for line in lines if line.get("task_queue") == core_logs_probe.QUEUE]
    assert started, lines
    assert started[0]["core_target"].startswith("temporalio_sdk_core")
    assert started[0]["level"] == "info" and "timestamp" in started[0]
    assert "temporal_log" not in started[0]
