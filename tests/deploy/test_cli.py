"""The ``autopilot`` command without a server: its queries, its terminal output, its one-line
errors; and the worker's health answers before and after it serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.forge.testing import free_port
from starters.common import StarterError
from starters.runs import RunSummary, list_query, status_lines, table_lines
from workers.health import WorkerHealth

AUTOPILOT = str(Path(sys.executable).parent / "autopilot")


def test_list_query_filters_issue_runs_by_search_attributes() -> None:
    assert list_query(None, None, None, False) == "WorkflowType = 'IssueWorkflow'"
    assert list_query("o/r", "approval", "running", True) == (
        "WorkflowType = 'IssueWorkflow' AND Repo = 'o/r' AND Stage = 'approval' "
        "AND Outcome = 'running' AND ExecutionStatus = 'Running'"
    )
    with pytest.raises(StarterError, match="may not contain quotes"):
        list_query("o/r' OR Repo != '", None, None, False)


def test_terminal_output() -> None:
    run = RunSummary(
        workflow_id="autopilot:h:o:r:7",
        run_id="x",
        status="running",
        repo="o/r",
        issue=7,
        stage="verify",
        outcome="running",
        started="2026-01-02T03:04:05+00:00",
        waiting_for="resume",
        attempts={"verify": 2, "plan": 1},
        cost_usd=0.5,
        model_calls=9,
    )
    assert status_lines(run) == [
        "run       autopilot:h:o:r:7 (running)",
        "issue     o/r#7",
        "stage     verify   outcome running",
        "waiting   for resume",
        "attempts  plan 1, verify 2",
        "cost      $0.5000 (9 model calls)",
    ]
    assert table_lines([run]) == [
        "ISSUE  STAGE   OUTCOME  STATUS   STARTED",
        "o/r#7  verify  running  running  2026-01-02T03:04:05Z",
    ]
    assert table_lines([]) == ["no runs match"]
    assert run.to_json()["attempts"] == {"verify": 2, "plan": 1}
    assert "pr_url" not in run.to_json()


def autopilot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text("repositories:\n  - name: r\n    repo: o/r\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens
    }
    return subprocess.run(
        [AUTOPILOT, *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list"], "autopilot list: cannot reach Temporal at 127.0.0.1:"),
        (["status", "--repo", "o/r", "--issue", "1"], "nothing listens there"),
        (["reject", "--repo", "o/r", "--issue", "1", "redo it"], "cannot reach Temporal"),
        (["status", "--repo", "x/y", "--issue", "1"], "unknown repository 'x/y'"),
        (["list", "--stage", "a'b"], "may not contain quotes"),
        (["reject", "--repo", "o/r", "--issue", "1"], "required: feedback"),
        (["nope"], "invalid choice: 'nope'"),
    ],
)
def test_mistakes_are_one_line_and_status_2(tmp_path: Path, args: list[str], expected: str) -> None:
    done = autopilot(tmp_path, *args)
    assert done.returncode == 2, done
    assert expected in done.stderr and "Traceback" not in done.stderr + done.stdout
    if not expected.startswith(("required", "invalid")):  # argparse adds its usage line
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in ("start", "approve", "reject", "resume", "steer", "status", "list", "mode"):
        done = autopilot(tmp_path, command, "--help")
        assert done.returncode == 0 and f"autopilot {command}" in done.stdout, done


async def test_health_before_and_after_serving() -> None:
    health = WorkerHealth("q", "127.0.0.1:7233 (namespace default)")
    assert await health.answer() == (
        503,
        {"status": "starting", "task_queue": "q", "temporal": "127.0.0.1:7233 (namespace default)"},
    )
    health.state = "draining"
    status, body = await health.answer()
    assert (status, body["status"]) == (200, "draining")
