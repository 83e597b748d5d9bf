"""Capacity of one worker: many issues in flight, each model call taking seconds.

    .venv/bin/python -m benchmarks.capacity                      # 100 issues, 5 s per model call
    .venv/bin/python -m benchmarks.capacity --issues 10 --model-seconds 1

It starts the Temporal dev server (in memory) and one worker process
(``benchmarks/capacity_worker.py``: the production sandbox and per-kind workers, activities
faked at the forge, model and workspace), carries one issue through to warm the worker up, then
starts all issues at once, as the starters do (with their activity queues), auto-approved, and
waits for every run to end. It prints one JSON document: how many completed, issues per hour,
the worker's resident memory (baseline after warm-up, peak while the issues were in flight,
and the growth per in-flight issue), history events per issue (the run and its tasks), the
activity rate of the run and, measured afterwards on the same server, the server's raw
activity rate (``benchmarks/capacity_ceiling.py``) as the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.capacity_ceiling import ActivityCeilingWorkflow, noop
from benchmarks.json_report import exit_now, json_stdout, write_report
from config.settings import CapacitySettings
from devstack.forge.testing import free_port
from devstack.temporal_server import DevServerError, temporal_cli
from domain.capacity import MEMO_ACTIVITY_QUEUES, activity_queues
from domain.issue import IssueRef, RepoRef
from domain.names import SEARCH_ATTRIBUTES
from domain.run import IssueResult, IssueWorkflowInput, RunSettings

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "capacity-bench"
CEILING_QUEUE = "capacity-ceiling"
CEILING_WORKFLOWS = 8
SAMPLE_SECONDS = 0.25
MB = 1024 * 1024


def issue_input(number: int) -> IssueWorkflowInput:
    repo = RepoRef(forge_url="http://forge.test", owner="bench", name="app")
    return IssueWorkflowInput(
        issue=IssueRef(repo=repo, number=number), settings=RunSettings(auto_approve=True)
    )


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def run_issues(client: Client, prefix: str, count: int) -> list[IssueResult]:
    memo = {MEMO_ACTIVITY_QUEUES: activity_queues(QUEUE)}
    handles = [
        await client.start_workflow(
            "IssueWorkflow",
            issue_input(n),
            id=f"{prefix}-{n}",
            task_queue=QUEUE,
            memo=memo,
            result_type=IssueResult,
        )
        for n in range(1, count + 1)
    ]
    return list(await asyncio.gather(*(h.result() for h in handles), return_exceptions=False))


async def sample_peak(pid: int, done: asyncio.Event) -> int:
    peak = rss_bytes(pid)
    while not done.is_set():
        peak = max(peak, rss_bytes(pid))
        await asyncio.sleep(SAMPLE_SECONDS)
    return peak


async def history_counts(client: Client, prefix: str) -> tuple[int, int]:
    """Events and scheduled activities of every workflow whose id starts with ``prefix``."""
    events = activities = 0
    async for run in client.list_workflows():
        if not run.id.startswith(prefix):
            continue
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        events += len(history.events)
        activities += sum(
            1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
        )
    return events, activities


async def ceiling(client: Client, seconds: float) -> float:
    async with Worker(
        client,
        task_queue=CEILING_QUEUE,
        workflows=[ActivityCeilingWorkflow],
        activities=[noop],
        max_concurrent_activities=CEILING_WORKFLOWS * 2,
    ):
        began = time.monotonic()
        counts = await asyncio.gather(
            *(
                client.execute_workflow(
                    ActivityCeilingWorkflow.run,
                    seconds,
                    id=f"ceiling-{n}",
                    task_queue=CEILING_QUEUE,
                )
                for n in range(CEILING_WORKFLOWS)
            )
        )
        return sum(counts) / (time.monotonic() - began)


def start_worker(address: str, model_seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.capacity_worker", address, QUEUE, str(model_seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the benchmark worker did not start")
    return proc


async def benchmark(issues: int, model_seconds: float, ceiling_seconds: float) -> dict[str, object]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
        dev_server_log_level="error",
    )
    client = env.client
    worker = start_worker(client.service_client.config.target_host, model_seconds)
    try:
        await run_issues(client, "warmup", 1)
        baseline = rss_bytes(worker.pid)
        done = asyncio.Event()
        peak_task = asyncio.create_task(sample_peak(worker.pid, done))
        began = time.monotonic()
        results = await run_issues(client, "issue", issues)
        elapsed = time.monotonic() - began
        done.set()
        peak = await peak_task
        events, activities = await history_counts(client, "issue-")
        raw_rate = await ceiling(client, ceiling_seconds)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await env.shutdown()
    completed = sum(1 for r in results if r.outcome == "pr_opened")
    capacity = CapacitySettings()
    return {
        "benchmark": "capacity",
        "settings": {
            "issues_in_flight": issues,
            "model_seconds": model_seconds,
            "max_model_activities": capacity.max_model_activities,
            "max_heavy_activities": capacity.max_heavy_activities,
            "max_activities": capacity.max_activities,
        },
        "completed": completed,
        "wall_seconds": round(elapsed, 1),
        "issues_per_hour": round(completed / elapsed * 3600, 1),
        "worker_rss_mb": {"baseline": round(baseline / MB, 1), "peak": round(peak / MB, 1)},
        "worker_rss_mb_per_in_flight_issue": round((peak - baseline) / MB / issues, 3),
        "history_events_per_issue": round(events / issues, 1),
        "activities_per_issue": round(activities / issues, 1),
        "activities_per_second": round(activities / elapsed, 1),
        "dev_server_raw_activities_per_second": round(raw_rate, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__)
    parser.add_argument("--issues", type=int, default=100)
    parser.add_argument("--model-seconds", type=float, default=5.0)
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    json_out = json_stdout()
    try:
        report = asyncio.run(benchmark(args.issues, args.model_seconds, args.ceiling_seconds))
    except (DevServerError, RuntimeError) as exc:
        print(f"capacity: {exc}", file=sys.stderr)
        return 2
    write_report(json_out, report)
    return 0


if __name__ == "__main__":
    exit_now(main())
