"""The contract table: every activity and workflow is named once and has its call options."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from config.settings import load_config
from domain import names
from workers.main import WORKFLOWS, autopilot_activities
from workflows import options
from workflows.resolution import no_progress

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("workflows", "activities", "starters", "workers", "devstack", "config")
ACTIVITY_NAMES = {
    value
    for key, value in vars(names).items()
    if key.isupper() and isinstance(value, str) and value.count(".") == 1 and "/" not in value
}


async def test_every_registered_activity_has_call_options_and_no_option_is_stale(
    tmp_path: Path,
) -> None:
    config = load_config(
        env={
            "AUTOPILOT_FORGE_TOKEN": "t",
            "AUTOPILOT__WORKSPACE__ROOT": str(tmp_path / "workspaces"),
            "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(tmp_path / "environments"),
        }
    )
    async with autopilot_activities(config, client=None) as activities:  # type: ignore[arg-type]
        registered = {fn.__temporal_activity_definition.name for fn in activities}  # type: ignore[attr-defined]
    assert registered == set(options.TABLE), (
        f"without options: {sorted(registered - set(options.TABLE))}; "
        f"options for nothing: {sorted(set(options.TABLE) - registered)}"
    )
    assert set(options.TABLE) == ACTIVITY_NAMES


@pytest.mark.parametrize("activity", sorted(options.TABLE))
def test_call_options_bound_every_attempt_and_never_retry_permanent_errors(activity: str) -> None:
    call = options.TABLE[activity]
    assert call.start_to_close > timedelta(0)
    if activity not in (names.BUDGET_RESERVE, names.BUDGET_SETTLE):
        assert set(options.PERMANENT_ERRORS) <= set(call.retry.non_retryable_error_types or [])


def test_every_workflow_type_is_named_in_the_contract() -> None:
    declared = {wf.__temporal_workflow_definition.name for wf in WORKFLOWS}  # type: ignore[attr-defined]
    assert declared == {
        names.ISSUE_WORKFLOW,
        names.TASK_WORKFLOW,
        names.CROSS_REPO_WORKFLOW,
        names.LEDGER_WORKFLOW,
        names.LEARNING_WORKFLOW,
        names.CONTROL_WORKFLOW,
        names.STUCK_RUNS_WORKFLOW,
        names.MAINTENANCE_WORKFLOW,
        names.COST_REPORT_WORKFLOW,
    }


def test_contract_names_are_written_out_only_in_the_contract() -> None:
    """A literal "forge.get_issue" or "IssueWorkflow" elsewhere would be a second definition."""
    contract = {*ACTIVITY_NAMES, *(wf.__temporal_workflow_definition.name for wf in WORKFLOWS)}  # type: ignore[attr-defined]
    found = []
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if "demo/repo" in path.as_posix():
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in contract:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []


def test_no_progress_means_the_same_failing_output_twice_in_a_row() -> None:
    assert not no_progress(["x"])
    assert not no_progress(["x", "y"])
    assert no_progress(["x", "y\n", "y"])
    assert not no_progress(["y", "x", "y"])
