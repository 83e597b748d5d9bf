"""The background schedules and the control workflow, made sure of when a worker starts.

Three Temporal Schedules (``operations.*`` in config): the stuck-run monitor, maintenance and
the daily cost report. Creating one that exists updates it to the configured timetable and
input instead, so every worker may do this at start, and a changed config takes effect with
the next worker. ``python -m workers.schedules`` does the same without starting a worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from activities.control import current_mode, ensure_control, set_mode
from activities.model.breaker import CircuitBreaker
from activities.model.metrics import watched_breakers
from config.settings import AutopilotConfig, ConfigError, load_config
from config.temporal import TemporalConnectError, temporal_connection
from domain import names
from domain.mode import SetModeRequest
from domain.operations import CostReportWorkflowInput, MaintenanceInput, StuckRunsInput

log = structlog.get_logger("autopilot.schedules")
DAILY = timedelta(days=1)
BREAKER_CHECK_SECONDS = 5.0
Breakers = Callable[[], Mapping[str, CircuitBreaker]]


@dataclass(frozen=True)
class Planned:
    schedule_id: str
    workflow: str
    arg: Any
    every: timedelta


def planned(config: AutopilotConfig) -> list[Planned]:
    ops = config.operations
    return [
        Planned(
            names.STUCK_RUNS_SCHEDULE_ID,
            names.STUCK_RUNS_WORKFLOW,
            StuckRunsInput(
                forge_url=config.forge.url, stuck_after_seconds=ops.stuck_after_minutes * 60
            ),
            timedelta(minutes=ops.monitor_every_minutes),
        ),
        Planned(
            names.MAINTENANCE_SCHEDULE_ID,
            names.MAINTENANCE_WORKFLOW,
            MaintenanceInput(prune_after_days=ops.prune_after_days),
            timedelta(hours=ops.maintenance_every_hours),
        ),
        Planned(
            names.COST_REPORT_SCHEDULE_ID,
            names.COST_REPORT_WORKFLOW,
            CostReportWorkflowInput(forge_url=config.forge.url, report_issue=ops.cost_report_issue),
            DAILY,
        ),
    ]


def _schedule(plan: Planned, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            plan.workflow, plan.arg, id=plan.schedule_id, task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=plan.every)]),
        # A round still going when the next is due: the next one is skipped, never piled up.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client, config: AutopilotConfig) -> list[str]:
    """Create or update every schedule, and start the control workflow; their ids."""
    await ensure_control(client, config.temporal.task_queue)
    made = []
    for plan in planned(config):
        schedule = _schedule(plan, config.temporal.task_queue)
        try:
            await client.create_schedule(plan.schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(plan.schedule_id).update(replace)
        made.append(plan.schedule_id)
    log.info("schedules ready", schedules=made)
    return made


async def at_worker_start(client: Client, config: AutopilotConfig) -> None:
    """The worker's start-up step: schedules and control workflow, unless turned off. A
    Temporal that refuses (permissions, an old server) is logged; the worker serves anyway."""
    if not config.operations.schedules:
        return
    try:
        await ensure_schedules(client, config)
    except RPCError as err:
        log.warning("schedules not created", error=err.message)


@asynccontextmanager
async def minimal_on_open_breakers(
    client: Client,
    config: AutopilotConfig,
    breakers: Breakers = watched_breakers,
    every: float = BREAKER_CHECK_SECONDS,
) -> AsyncIterator[None]:
    """With ``operations.breaker_minimal_after_seconds``: while the block runs, a provider's
    breaker open that long switches a ``normal`` deployment to ``minimal``, saying why.
    Going back to ``normal`` is a person's decision."""
    after = config.operations.breaker_minimal_after_seconds
    if after is None:
        yield
        return
    queue = config.temporal.task_queue
    watch = asyncio.create_task(_watch_breakers(client, queue, after, breakers, every))
    try:
        yield
    finally:
        watch.cancel()
        with suppress(asyncio.CancelledError):
            await watch


async def _watch_breakers(
    client: Client, task_queue: str, after: float, breakers: Breakers, every: float
) -> None:
    acted: set[str] = set()  # providers already acted on in this outage
    while True:
        await asyncio.sleep(every)
        for name, breaker in breakers().items():
            down = breaker.open_for()
            if down < after:
                if down == 0:
                    acted.discard(name)
                continue
            if name in acted:
                continue
            acted.add(name)
            reason = f"model provider {name} unavailable for {down:.0f}s"
            try:
                if (await current_mode(client)).mode != "normal":
                    continue
                request = SetModeRequest(mode="minimal", by=f"breaker:{name}", reason=reason)
                await set_mode(client, task_queue, request)
            except RPCError as err:
                acted.discard(name)  # try again next round
                log.warning("could not switch to minimal", provider=name, error=err.message)
                continue
            log.warning("switched to minimal mode", provider=name, reason=reason)


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.schedules", description=__doc__)
    parser.add_argument("--config", type=Path, help="config file")
    args = parser.parse_args(argv)
    try:
        config = load_config(path=args.config)
        client = await temporal_connection(config).connect()
        made = await ensure_schedules(client, config)
    except (ConfigError, TemporalConnectError) as problem:
        print(f"schedules: {problem}", file=sys.stderr)
        return 2
    print("schedules ready: " + ", ".join(made))
    return 0


if __name__ == "__main__":
    code = asyncio.run(_main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # temporalio's Rust bridge can abort at interpreter exit
