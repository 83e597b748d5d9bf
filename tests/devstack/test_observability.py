"""workers.observability: JSON lines, redaction, and Temporal context on every line."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import uuid
from typing import Any

import pytest
import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from devstack.temporal_server import DevServer
from domain import names
from tests.devstack.logging_workflow import LoggingProbe
from workers.observability import (
    ACTIVITY_STAGES,
    configure_logging,
    current_stage,
    register_secret,
)

pytestmark = pytest.mark.usefixtures("restore_logging")


def json_lines(err: str) -> list[dict[str, Any]]:
    """Every non-empty stderr line, parsed; fails if any line is not a JSON object."""
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def unique_secret(prefix: str) -> str:
    return f"{prefix}-{os.urandom(8).hex()}"


def test_structlog_and_stdlib_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO")
    structlog.get_logger("autopilot.test").info("from structlog", issue=7)
    logging.getLogger("some.library").warning("from stdlib %s", "args", extra={"repo": "o/r"})
    logging.getLogger("some.library").debug("below the level")

    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["from structlog", "from stdlib args"]
    first, second = lines
    assert first["issue"] == 7
    assert first["level"] == "info"
    assert first["logger"] == "autopilot.test"
    assert second["repo"] == "o/r"
    assert second["level"] == "warning"
    assert "timestamp" in first and "timestamp" in second
    # Outside Temporal there is no workflow to name.
    assert "workflow_id" not in first


def test_loggers_made_before_configuring_follow_it(capsys: pytest.CaptureFixture[str]) -> None:
    early = structlog.get_logger("made.at.import")
    early.info("before")  # structlog's default config; not our concern
    capsys.readouterr()
    configure_logging()
    early.info("after", token="t-value")
    (line,) = json_lines(capsys.readouterr().err)
    assert (line["event"], line["token"], line["logger"]) == (
        "after",
        "[redacted]",
        "made.at.import",
    )


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_format=False)
    structlog.get_logger().info("plain words", token="t0ps3cr3t")
    err = capsys.readouterr().err
    assert "plain words" in err
    assert "t0ps3cr3t" not in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


def test_reconfiguring_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    configure_logging(level="DEBUG")
    logging.getLogger("x").debug("once")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["once"]


def test_bad_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging(level="LOUD")


def test_secret_named_keys_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    structlog.get_logger().info(
        "request",
        token="tok-value",
        forge_token="ft-value",
        api_key="ak-value",
        password="pw-value",
        headers={"Authorization": "token hv-value", "Accept": "application/json"},
        clientSecret="cs-value",
        input_tokens=120,
        token_env="AUTOPILOT_FORGE_TOKEN",
    )
    logging.getLogger("lib").info("stdlib", extra={"x_api_key": "xk-value"})
    err = capsys.readouterr().err
    for value in ("tok-", "ft-", "ak-", "pw-", "hv-", "cs-", "xk-"):
        assert f"{value}value" not in err
    request, stdlib = json_lines(err)
    assert request["token"] == request["api_key"] == request["password"] == "[redacted]"
    assert request["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}
    assert request["clientSecret"] == "[redacted]"
    # Counts and variable names are not secrets.
    assert request["input_tokens"] == 120
    assert request["token_env"] == "AUTOPILOT_FORGE_TOKEN"
    assert stdlib["x_api_key"] == "[redacted]"


def test_registered_secret_values_are_redacted_everywhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    early = unique_secret("early")
    late = unique_secret("late")
    configure_logging(secrets=[early])
    register_secret(late)
    log = structlog.get_logger()
    log.info(f"cloning https://x:{early}@forge/repo.git", nested={"url": [f"?t={late}"]})
    logging.getLogger("lib").warning("retrying with %s", late)
    try:
        raise RuntimeError(f"server echoed {early}")
    except RuntimeError:
        logging.getLogger("lib").exception("failed")

    class Holder:
        def __repr__(self) -> str:
            return f"Holder({late})"

    log.info("object", obj=Holder())

    err = capsys.readouterr().err
    assert early not in err and late not in err
    lines = json_lines(err)
    assert lines[0]["event"] == "cloning https://x:[redacted]@forge/repo.git"
    assert lines[0]["nested"] == {"url": ["?t=[redacted]"]}
    assert lines[1]["event"] == "retrying with [redacted]"
    assert "server echoed [redacted]" in lines[2]["exception"]
    assert "[redacted]" in lines[3]["obj"]


def test_tiny_secrets_are_not_registered(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(secrets=["", "ab"])
    structlog.get_logger().info("a tab and a cab")
    assert json_lines(capsys.readouterr().err)[0]["event"] == "a tab and a cab"


@activity.defn(name=names.DRAFT_PLAN)
async def draft_plan_probe() -> None:
    activity.logger.info("asking the model")
    structlog.get_logger().info("structlog inside the activity")
    token = current_stage.set("approval")
    try:
        activity.logger.info("stage from the contextvar")
    finally:
        current_stage.reset(token)
    activity.logger.info("stage from extra", extra={"stage": "review"})


async def test_activity_lines_carry_workflow_run_and_stage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, activity_type=names.DRAFT_PLAN, workflow_id="issue-o-r-7", workflow_run_id="r-1"
    )
    await env.run(draft_plan_probe)

    lines = json_lines(capsys.readouterr().err)
    assert [line["stage"] for line in lines] == ["plan", "plan", "approval", "review"]
    for line in lines:
        assert line["workflow_id"] == "issue-o-r-7"
        assert line["run_id"] == "r-1"
        assert line["activity_type"] == names.DRAFT_PLAN
        assert "temporal_activity" not in line
    # temporalio would otherwise paste its info dict into the message itself.
    assert lines[0]["event"] == "asking the model"


async def test_activity_without_a_stage_gets_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    assert names.UPSERT_COMMENT not in ACTIVITY_STAGES
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=names.UPSERT_COMMENT)
    env.run(lambda: activity.logger.info("commenting"))
    assert json_lines(capsys.readouterr().err)[0]["stage"] == "-"


def test_stage_table_covers_the_pipeline_activities() -> None:
    assert ACTIVITY_STAGES[names.DRAFT_PLAN] == "plan"
    assert ACTIVITY_STAGES[names.DRAFT_EDITS] == "implement"
    assert ACTIVITY_STAGES[names.RUN_TESTS] == "verify"
    assert ACTIVITY_STAGES[names.REVIEW_CHANGE] == "review"
    assert ACTIVITY_STAGES[names.OPEN_PULL_REQUEST] == "pull_request"


async def test_workflow_logger_lines_carry_workflow_run_and_stage(
    dev_server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = unique_secret("wf")
    configure_logging(secrets=[secret])
    client = await Client.connect(dev_server.address)
    task_queue = f"logging-{uuid.uuid4()}"
    workflow_id = f"logging-probe-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[LoggingProbe]):
        run_id = await client.execute_workflow(
            LoggingProbe.run, secret, id=workflow_id, task_queue=task_queue
        )

    err = capsys.readouterr().err
    assert secret not in err
    lines = {line["event"]: line for line in json_lines(err)}
    planned = lines["drafting the plan"]
    assert (planned["workflow_id"], planned["run_id"], planned["stage"]) == (
        workflow_id,
        run_id,
        "plan",
    )
    forge = lines["calling the forge with [redacted]"]
    assert (forge["workflow_id"], forge["run_id"], forge["stage"]) == (workflow_id, run_id, "-")
    assert "temporal_workflow" not in forge
