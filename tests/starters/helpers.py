"""Running a starter as its own process, and moving the stub run along."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus

from domain.issue import IssueRef

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def run_starter(module: str, args: list[str], env: dict[str, str]) -> Ran:
    """Without blocking the event loop: the stub's worker runs in this process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def finish(client: Client, issue: IssueRef) -> None:
    handle = client.get_workflow_handle(issue.workflow_id)
    await handle.signal("finish")
    await handle.result()


async def latest(client: Client, issue: IssueRef) -> tuple[str, WorkflowExecutionStatus | None]:
    described = await client.get_workflow_handle(issue.workflow_id).describe()
    return described.run_id, described.status
