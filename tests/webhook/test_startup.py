"""Startup mistakes are one clear line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack.forge.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starters.webhook", "--port", str(free_port())],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_is_named() -> None:
    proc = start({"AUTOPILOT_FORGE_TOKEN": "t" * 40})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "webhook: environment variable AUTOPILOT_WEBHOOK_SECRET is not set (the webhook secret)"
    )


def test_unreachable_temporal_is_one_line() -> None:
    proc = start(
        {
            "AUTOPILOT_WEBHOOK_SECRET": "s3cret-value",
            "AUTOPILOT_FORGE_TOKEN": "t" * 40,
            "AUTOPILOT__TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}",
        }
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Temporal at 127.0.0.1:" in lines[0], proc.stderr
    assert "s3cret-value" not in proc.stderr + proc.stdout
