"""DAG makespan on the real Temporal dev server: ``DagScheduler`` vs the seed's batch executor.

    python -m benchmarks.dag_makespan [--quick] [--dags N] [--unit-ms MS] [--seed S]

Prints one JSON document: per ``max_parallel``, the median and p90 of makespan / lower bound
(max(critical path, total work / width)) for both executors, the batch / scheduler ratio, and the
orchestration overhead per task (measured makespan minus the executor's own zero-overhead
schedule, divided by the task count). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.dag_activities import sleep_task
from benchmarks.dag_workflows import BENCH_WORKFLOWS, BatchDagWorkflow, SchedulerDagWorkflow
from benchmarks.dags import random_dags
from benchmarks.json_report import exit_now, json_stdout, write_report
from benchmarks.models import BenchDag, ExecuteDagInput, ExecuteDagResult
from benchmarks.simulate import DagRun, Executor, plan_run, summarize, weighting_study
from devstack.forge.testing import free_port
from devstack.temporal_server import DevServerError, temporal_cli

TASK_QUEUE = "autopilot-bench-dag"
WIDTHS = (3, 10)
# Tasks of 0.4-4 s: long enough that the dev server's fixed dispatch latency does not swamp
# the schedule being measured (real tasks take minutes). --quick trades that for speed.
DEFAULT_UNIT_MS = 400
QUICK_UNIT_MS = 50
DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class Settings:
    dags: int
    unit_ms: int
    seed: int
    min_tasks: int
    max_tasks: int


FULL = Settings(dags=4, unit_ms=DEFAULT_UNIT_MS, seed=DEFAULT_SEED, min_tasks=8, max_tasks=40)
QUICK = Settings(dags=3, unit_ms=QUICK_UNIT_MS, seed=DEFAULT_SEED, min_tasks=8, max_tasks=16)


def parse_args(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dag_makespan")
    parser.add_argument("--quick", action="store_true", help="3 small DAGs per width (< 60 s)")
    parser.add_argument("--dags", type=int, help="DAGs per width")
    parser.add_argument("--unit-ms", type=int, help=f"ms per duration unit ({DEFAULT_UNIT_MS})")
    parser.add_argument("--seed", type=int, help=f"DAG family ({DEFAULT_SEED})")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    settings = Settings(
        dags=args.dags if args.dags is not None else base.dags,
        unit_ms=args.unit_ms if args.unit_ms is not None else base.unit_ms,
        seed=args.seed if args.seed is not None else base.seed,
        min_tasks=base.min_tasks,
        max_tasks=base.max_tasks,
    )
    if settings.dags < 1 or settings.unit_ms < 1:
        parser.error("--dags and --unit-ms must be at least 1")
    return settings


async def execute(
    client: Client, executor: Executor, dag: BenchDag, run: DagRun, unit_ms: int
) -> None:
    """Run the DAG once with ``executor`` and record its measured makespan in ``run``."""
    workflow = SchedulerDagWorkflow.run if executor == "scheduler" else BatchDagWorkflow.run
    result: ExecuteDagResult = await client.execute_workflow(
        workflow,
        ExecuteDagInput(dag=dag, max_parallel=run.max_parallel, unit_ms=unit_ms),
        id=f"bench-dag-{uuid.uuid4().hex[:8]}-{executor}-w{run.max_parallel}-{dag.name}",
        task_queue=TASK_QUEUE,
    )
    if result.tasks_run != len(dag.tasks):
        raise RuntimeError(f"{executor} ran {result.tasks_run} of {len(dag.tasks)} tasks")
    run.runs[executor].measured_ms = result.makespan_ms


async def benchmark(settings: Settings) -> dict[str, object]:
    dags = random_dags(settings.seed, settings.dags, settings.min_tasks, settings.max_tasks)
    runs = [(dag, plan_run(dag, width)) for width in WIDTHS for dag in dags]
    began = time.monotonic()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
        dev_server_log_level="error",
    )
    try:
        async with Worker(
            env.client,
            task_queue=TASK_QUEUE,
            workflows=BENCH_WORKFLOWS,
            activities=[sleep_task],
        ):
            # One DAG at a time: concurrent runs would measure contention on 2 cores instead.
            for dag, run in runs:
                for executor in run.runs:
                    await execute(env.client, executor, dag, run, settings.unit_ms)
    finally:
        await env.shutdown()
    return {
        "benchmark": "dag_makespan",
        "settings": {
            "dags_per_width": settings.dags,
            "tasks_per_dag": [settings.min_tasks, settings.max_tasks],
            "unit_ms": settings.unit_ms,
            "seed": settings.seed,
            "widths": list(WIDTHS),
            "scheduler_weight": "the plan's effort estimates (exact here; see offline_weighting)",
        },
        "results": summarize([run for _, run in runs], settings.unit_ms),
        "offline_weighting": weighting_study(dags, WIDTHS),
        "wall_seconds": round(time.monotonic() - began, 1),
        "runs": [run.model_dump() for _, run in runs],
    }


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    json_out = json_stdout()
    try:
        report = asyncio.run(benchmark(settings))
    except DevServerError as exc:
        print(f"dag_makespan: {exc}", file=sys.stderr)
        return 2
    write_report(json_out, report)
    return 0


if __name__ == "__main__":
    exit_now(main())
