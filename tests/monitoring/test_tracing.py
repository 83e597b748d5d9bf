"""One run is one trace: the starter's start, the workflow, its activities, their HTTP calls."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from config.settings import load_config
from devstack.forge.testing import RunningForge
from devstack.seed import Seeder
from domain import names
from starters.gitea_actions import handle_event
from tests.e2e.conftest import REPOSITORIES_YAML, Stack
from tests.e2e.test_issue_to_pull_request import actions_env, seed_issue, wait_for_status
from workers.main import running_worker
from workers.telemetry import configure_tracing, stop_tracing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
REPO_NAME = "traced"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure_tracing(provider)
    try:
        yield exporter
    finally:
        stop_tracing()
        provider.shutdown()


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {len(found)} spans among {sorted({s.name for s in spans})}"
    return found[0]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent and s.parent.span_id == parent.context.span_id]


async def test_a_run_is_one_trace_from_the_starter_to_the_http_calls(
    spans: InMemorySpanExporter,
    temporal: WorkflowEnvironment,
    forge: RunningForge,
    model_url: str,
    environments: Path,
    tmp_path: Path,
) -> None:
    repositories = tmp_path / "repositories.yaml"
    repo = f"{forge.admin}/{REPO_NAME}"
    repositories.write_text(REPOSITORIES_YAML.format(repo=repo))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__TEMPORAL__ADDRESS": temporal.client.service_client.config.target_host,
        "AUTOPILOT__FORGE__URL": forge.base_url,
        "AUTOPILOT__MODEL__BASE_URL": model_url,
        "AUTOPILOT__WORKSPACE__ROOT": str(tmp_path / "workspaces"),
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(environments),
    }
    config = load_config(env=env)
    seeder = Seeder(forge.base_url, forge.token)
    stack = Stack(temporal.client, config, env, forge, seeder, repo)
    try:
        async with running_worker(config, temporal.client):
            number, event_path = await seed_issue(stack, tmp_path)
            # The starter connects its own client, with the tracing interceptor.
            assert await handle_event(config, actions_env(stack, event_path)) == 0
            workflow_id = (
                f"autopilot:{forge.base_url.split('//')[1]}:{repo.replace('/', ':')}:{number}"
            )
            await wait_for_status(stack, workflow_id, "approval")
            await temporal.client.get_workflow_handle(workflow_id).terminate("traced enough")
    finally:
        await seeder.aclose()

    finished = list(spans.get_finished_spans())
    start = only(finished, f"StartWorkflow:{names.ISSUE_WORKFLOW}")
    assert start.parent is None and start.context is not None  # the starter's span is the root
    # The workflow's spans hang off the start it continues (TracingInterceptor's model: the
    # workflow run is a marker span, its activities are scheduled in the start's context).
    only(children(finished, start), f"RunWorkflow:{names.ISSUE_WORKFLOW}")
    trace_id = start.context.trace_id
    for activity, method in ((names.GET_ISSUE, "GET"), (names.AGENT_TURN, "POST")):
        scheduled = [s for s in children(finished, start) if s.name == f"StartActivity:{activity}"]
        assert scheduled, f"no StartActivity:{activity} under the start"
        executed = only(children(finished, scheduled[0]), f"RunActivity:{activity}")
        http = children(finished, executed)  # the activity's own HTTP requests
        assert http and all(s.name.startswith(method) for s in http), [s.name for s in http]
    in_trace = {s.name for s in finished if s.context and s.context.trace_id == trace_id}
    # Everything the run did up to the approval wait is in the one trace.
    assert in_trace >= {
        f"RunActivity:{names.GET_REPO}",
        f"RunActivity:{names.ENSURE_LABELS}",
        f"RunActivity:{names.UPSERT_COMMENT}",
        f"RunActivity:{names.PREPARE_WORKSPACE}",
        f"RunActivity:{names.AGENT_TURN}",
    }
