"""Per-run gates and the gate a decision is for, from the command line: ``--gates`` gives the
started run its own gates (overriding the repository's), ``--stage`` reaches the run's
validator, and unknown gate names are one line with status 2 before anything starts.

On the real Temporal dev server with the stub run (its validator refuses a decision for any
gate but the plan), and the local forge the starters check the issue on."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError

from domain.run import IssueWorkflowInput
from tests.starters.conftest import Stack
from tests.starters.helpers import run_starter

CLI = "starters.cli"


def args(stack: Stack, *more: str) -> list[str]:
    return ["--repo", stack.issue.repo.full_name, "--issue", str(stack.issue.number), *more]


async def started_input(stack: Stack) -> IssueWorkflowInput:
    """The input the run was started with, as its history holds it."""
    history = await stack.client.get_workflow_handle(stack.issue.workflow_id).fetch_history()
    (first, *_) = history.events
    assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    payloads = first.workflow_execution_started_event_attributes.input.payloads
    (input,) = await stack.client.data_converter.decode(payloads, [IssueWorkflowInput])
    assert isinstance(input, IssueWorkflowInput)
    return input


def with_repository_gates(stack: Stack, gates: str) -> None:
    repositories = Path(stack.env["AUTOPILOT_REPOSITORIES"])
    repositories.write_text(repositories.read_text() + f"    gates: {gates}\n")


async def test_start_with_gates_overrides_the_repositorys_gates(stack: Stack) -> None:
    with_repository_gates(stack, "[verify]")
    ran = await run_starter(CLI, ["start", *args(stack, "--gates", "merge, implement")], stack.env)
    assert ran.code == 0, ran.err
    input = await started_input(stack)
    assert input.settings.gates == ["merge", "implement"] and input.repo_settings.gates is None


async def test_start_without_gates_keeps_the_configured_ones(stack: Stack) -> None:
    with_repository_gates(stack, "[verify]")
    ran = await run_starter("starters.start_issue", args(stack), stack.env)
    assert ran.code == 0, ran.err
    assert (await started_input(stack)).repo_settings.gates == ["verify"]


async def test_start_with_gates_none_runs_without_gates(stack: Stack) -> None:
    with_repository_gates(stack, "[verify]")
    ran = await run_starter("starters.start_issue", args(stack, "--gates", "none"), stack.env)
    assert ran.code == 0, ran.err
    input = await started_input(stack)
    assert input.settings.gates == [] and input.repo_settings.gates is None


@pytest.mark.parametrize(
    ("module", "command"), [("starters.start_issue", []), (CLI, ["start"])], ids=["module", "cli"]
)
async def test_an_unknown_gate_is_one_line_and_starts_nothing(
    stack: Stack, module: str, command: list[str]
) -> None:
    ran = await run_starter(module, [*command, *args(stack, "--gates", "verify,deploy")], stack.env)
    prog = "start_issue" if module != CLI else "autopilot start"
    assert ran.code == 2 and ran.out == ""
    assert ran.err.strip().splitlines() == [
        f"{prog}: unknown gate 'deploy' in --gates; choose from implement, verify, "
        "pull_request, merge"
    ]
    with pytest.raises(RPCError):
        await stack.client.get_workflow_handle(stack.issue.workflow_id).describe()


async def test_the_stage_of_a_decision_reaches_the_runs_validator(stack: Stack) -> None:
    assert (await run_starter(CLI, ["start", *args(stack)], stack.env)).code == 0
    refused = await run_starter(
        CLI, ["approve", *args(stack, "--stage", "merge", "--as", "alice")], stack.env
    )
    assert refused.code == 2 and refused.out == ""
    assert refused.err.strip().splitlines() == [
        "autopilot approve: decision refused: no merge gate is waiting"
    ]
    rejected = await run_starter(
        CLI,
        ["reject", *args(stack, "use Decimal", "--stage", "verify", "--as", "alice")],
        stack.env,
    )
    assert rejected.code == 2
    assert "decision refused: no verify gate is waiting" in rejected.err
    unknown = await run_starter(
        "starters.approve", args(stack, "--approve", "--stage", "deploy"), stack.env
    )
    assert unknown.code == 2 and unknown.err.strip().splitlines() == [
        "approve: unknown gate 'deploy' in --stage; choose from plan, implement, verify, "
        "pull_request, merge"
    ]
    approved = await run_starter(
        CLI, ["approve", *args(stack, "--stage", "plan", "--as", "alice")], stack.env
    )
    assert (approved.code, approved.out.strip()) == (0, "approved")
