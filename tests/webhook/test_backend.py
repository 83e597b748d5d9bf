"""TemporalBackend's start decisions, with the Temporal calls it makes replaced."""

from __future__ import annotations

from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.forge.client import GiteaClient
from config.settings import AutopilotConfig
from domain.cross_repo import cross_repo_workflow_id
from domain.issue import IssueRef
from starters.common import StartedRun, issue_ref
from starters.webhook import backend as backend_module
from starters.webhook.backend import Refused, TemporalBackend, Unavailable
from tests.webhook.payloads import CROSS_REPO, REPO


class FakeTemporal:
    """What the backend asks Temporal: the latest run's status, then a start."""

    def __init__(self, status: WorkflowExecutionStatus | None, started: bool = True) -> None:
        self.status = status
        self.started = started
        self.asked: list[str] = []
        self.starts: list[tuple[str, IssueRef]] = []
        self.down = False

    async def latest_run_status(self, _client: Any, workflow_id: str) -> Any:
        if self.down:
            raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
        self.asked.append(workflow_id)
        return self.status

    async def start_cross_repo_run(
        self, _client: Any, _config: Any, workflow: str, trigger: IssueRef
    ) -> StartedRun:
        self.starts.append((workflow, trigger))
        return StartedRun(cross_repo_workflow_id(workflow, trigger), "run", self.started, "")


def backend(
    config: AutopilotConfig, monkeypatch: pytest.MonkeyPatch, fake: FakeTemporal
) -> TemporalBackend:
    monkeypatch.setattr(backend_module, "latest_run_status", fake.latest_run_status)
    monkeypatch.setattr(backend_module, "start_cross_repo_run", fake.start_cross_repo_run)
    return TemporalBackend(cast(Client, object()), config, cast(GiteaClient, object()))


@pytest.mark.parametrize(
    ("status", "started", "answer"),
    [
        (None, True, "started"),
        (WorkflowExecutionStatus.RUNNING, False, "already running"),
    ],
)
async def test_cross_repo_start_or_join(
    config: AutopilotConfig,
    monkeypatch: pytest.MonkeyPatch,
    status: WorkflowExecutionStatus | None,
    started: bool,
    answer: str,
) -> None:
    fake = FakeTemporal(status, started)
    trigger = issue_ref(config, REPO, 3)
    assert await backend(config, monkeypatch, fake).start_cross_repo(CROSS_REPO, trigger) == answer
    assert fake.asked == [cross_repo_workflow_id(CROSS_REPO, trigger)]
    assert fake.starts == [(CROSS_REPO, trigger)]


async def test_a_finished_cross_repo_change_is_not_started_again(
    config: AutopilotConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its label stays on the issue: any later label edit would otherwise restart the change.
    fake = FakeTemporal(WorkflowExecutionStatus.COMPLETED)
    with pytest.raises(Refused, match="has finished; start a new one with python -m starters"):
        await backend(config, monkeypatch, fake).start_cross_repo(
            CROSS_REPO, issue_ref(config, REPO, 3)
        )
    assert fake.starts == []


async def test_temporal_down_is_unavailable(
    config: AutopilotConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTemporal(None)
    fake.down = True
    with pytest.raises(Unavailable, match="Temporal refused the start"):
        await backend(config, monkeypatch, fake).start_cross_repo(
            CROSS_REPO, issue_ref(config, REPO, 3)
        )


async def test_a_pull_request_not_on_an_autopilot_branch_wakes_nothing(
    config: AutopilotConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTemporal(None)
    with pytest.raises(Refused, match="not a pull request of an Autopilot run"):
        await backend(config, monkeypatch, fake).notify(issue_ref(config, REPO, 9), "feature/x")
