"""A real Prometheus scrapes a real worker process while it carries an issue to a pull request."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from config.settings import load_config
from devstack.forge.testing import RunningForge, free_port
from devstack.seed import Seeder
from domain import metrics
from domain.run import ApprovalDecision, IssueResult, IssueStatus
from starters.gitea_actions import handle_event
from tests.e2e.conftest import REPOSITORIES_YAML, Stack
from tests.e2e.test_issue_to_pull_request import actions_env, seed_issue, wait_for_status
from tests.monitoring.expressions import used_metrics
from tests.monitoring.prometheus import RunningPrometheus, running_prometheus
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
REPO_NAME = "scraped"
RUN_SECONDS = 60
# Temporal's own SDK metrics, through the same endpoint (a sample of those a run must produce).
TEMPORAL_METRICS = {
    "temporal_workflow_completed_total",
    "temporal_activity_execution_latency_seconds_bucket",
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
    "temporal_request_total",
}


def worker_env(
    temporal: WorkflowEnvironment, forge: RunningForge, model_url: str, tmp: Path, envs: Path
) -> dict[str, str]:
    repositories = tmp / "repositories.yaml"
    repositories.write_text(REPOSITORIES_YAML.format(repo=f"{forge.admin}/{REPO_NAME}"))
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__TEMPORAL__ADDRESS": temporal.client.service_client.config.target_host,
        "AUTOPILOT__FORGE__URL": forge.base_url,
        "AUTOPILOT__MODEL__BASE_URL": model_url,
        "AUTOPILOT__WORKSPACE__ROOT": str(tmp / "workspaces"),
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(envs),
        # A global budget, so the run reserves through the ledger and the budget gauges report.
        "AUTOPILOT__BUDGET__GLOBAL_USD_PER_HOUR": "100",
    }


@pytest.fixture
def worker(
    temporal: WorkflowEnvironment,
    forge: RunningForge,
    model_url: str,
    environments: Path,
    tmp_path: Path,
) -> Iterator[tuple[dict[str, str], str]]:
    """``python -m workers`` serving /metrics on a free loopback port."""
    env = worker_env(temporal, forge, model_url, tmp_path, environments)
    port = free_port()
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers", "--metrics-port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        yield env, f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        # The worker's own lines, for a failing run (pytest shows captured output then).
        print(log.read_text()[-6000:])


async def scraped(prometheus: RunningPrometheus, expression: str) -> list[dict[str, object]]:
    return await eventually(
        lambda: _query(prometheus, expression),
        bool,
        timeout=30,
        interval=0.5,
        what=lambda: f"Prometheus answering {expression}; runs: {_runs(prometheus)}",
    )


def _runs(prometheus: RunningPrometheus) -> object:
    found = prometheus.query('{__name__=~"autopilot_runs.*|up"}')
    return [(r["metric"], r["value"][1]) for r in found]


async def _query(prometheus: RunningPrometheus, expression: str) -> list[dict[str, object]]:
    return prometheus.query(expression)  # type: ignore[return-value]


def label(series: dict[str, object], name: str) -> object:
    labels = series["metric"]
    assert isinstance(labels, dict)
    return labels.get(name)


def value(result: list[dict[str, object]]) -> float:
    (only,) = result
    sample = only["value"]
    assert isinstance(sample, list)
    return float(sample[1])


async def test_prometheus_sees_temporal_and_autopilot_metrics_of_a_run(
    worker: tuple[dict[str, str], str],
    temporal: WorkflowEnvironment,
    forge: RunningForge,
    tmp_path: Path,
) -> None:
    env, target = worker
    config = load_config(env=env)
    seeder = Seeder(forge.base_url, forge.token)
    stack = Stack(temporal.client, config, env, forge, seeder, f"{forge.admin}/{REPO_NAME}")
    try:
        with running_prometheus(tmp_path / "prometheus", [target]) as prometheus:
            await eventually(
                lambda: _up(target), bool, timeout=30, interval=0.2, what=f"/metrics on {target}"
            )
            result = await run_issue(stack, tmp_path)
            stages = {t.stage for t in result.status.timings}
            assert {"intake", "plan", "implement", "review", "pull_request"} <= stages
            await check_scrape(prometheus, stack.repo, stages)
    finally:
        await seeder.aclose()


async def run_issue(stack: Stack, tmp_path: Path) -> IssueResult:
    """Label, approve, wait for the pull request; then query the closed run (a full replay)."""
    number, event_path = await seed_issue(stack, tmp_path)
    assert await handle_event(stack.config, actions_env(stack, event_path)) == 0
    host = stack.forge.base_url.split("//")[1]
    workflow_id = f"autopilot:{host}:{stack.repo.replace('/', ':')}:{number}"
    await wait_for_status(stack, workflow_id, "approval")
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    await handle.execute_update("approve", ApprovalDecision(approver="maintainer", approved=True))
    result = await asyncio.wait_for(handle.result(), RUN_SECONDS)
    assert result.outcome == "pr_opened", result.status.error
    # A closed run answers queries by replaying its whole history: nothing may count twice.
    for _ in range(2):
        await handle.query("status", result_type=IssueStatus)
    return result


async def check_scrape(prometheus: RunningPrometheus, repo: str, run_stages: set[str]) -> None:
    ended = f'autopilot_runs_ended_total{{repo="{repo}",outcome="pr_opened"}}'
    # A scrape taken after the replays were drained (each step is at most a second apart).
    after = time.time() + 3
    await scraped(prometheus, f"timestamp({ended}) > {after}")
    names = prometheus.metric_names()
    missing = used_metrics() - names
    assert not missing, f"rules or dashboard use metrics no scrape has: {sorted(missing)}"
    assert names >= TEMPORAL_METRICS, sorted(TEMPORAL_METRICS - names)
    for name in (metrics.exported(n) for n in metrics.COUNTERS | metrics.GAUGES):
        assert name in names, name
    # One start and one ending, however often the run was replayed.
    assert value(await scraped(prometheus, f'autopilot_runs_started_total{{repo="{repo}"}}')) == 1
    assert value(await scraped(prometheus, ended)) == 1
    stages = await scraped(prometheus, "sum by (stage) (autopilot_stage_duration_seconds_count)")
    # Every stage the run itself timed has a duration in the scrape.
    assert {label(s, "stage") for s in stages} >= run_stages, stages
    calls = await scraped(prometheus, 'autopilot_model_calls_total{outcome="answered"}')
    assert {label(c, "stage") for c in calls} >= {"plan", "implement", "review"}
    assert await scraped(prometheus, 'autopilot_forge_requests_total{status_class="2xx"}')
    assert await scraped(prometheus, 'autopilot_test_runs_total{outcome="passed"}')
    assert await scraped(prometheus, 'autopilot_model_breaker_state{state="closed"} == 1')
    assert await scraped(prometheus, 'autopilot_review_verdicts_total{verdict="approve"}')
    assert await scraped(prometheus, 'autopilot_review_rubric_score_count{criterion="correctness"}')


async def _up(target: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://{target}/metrics")).status_code == 200
    except httpx.TransportError:
        return False
