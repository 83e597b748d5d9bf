"""The demo: carry a real issue to a real pull request on the embedded stack.

    python -m devstack.demo [--interactive]

Starts (or reuses) Temporal, starts the local forge, the offline model and a worker, seeds a
repository with a real bug and a failing test plus an issue describing it, fires the starter
exactly as Gitea Actions would, approves the plan (or waits for you with --interactive), and
prints the pull request, the Web UI link and a summary. Running it again resets the forge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from config.settings import AutopilotConfig, load_config
from devstack.processes import ProcessError
from devstack.seed import Seeder, SeedError
from devstack.stack import FORGE_ADMIN, EmbeddedStack
from domain.issue import IssueRef, RepoRef
from domain.run import IssueStatus
from starters.common import run_main, ui_link

DEMO = Path(__file__).parent
REPO_NAME = "demo"
DEMO_TIMEOUT_SECONDS = 600


class DemoError(RuntimeError):
    pass


async def _status(client: Client, workflow_id: str) -> IssueStatus | None:
    try:
        return await client.get_workflow_handle(workflow_id).query(
            "status", result_type=IssueStatus
        )
    except RPCError:
        return None


async def _terminate_leftover(client: Client, workflow_id: str) -> None:
    """A run left waiting by an interrupted demo would outlive the forge it worked on."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("demo reset")
            print(f"terminated the previous demo run {workflow_id}")
    except RPCError:
        pass


def _run_starter(module: str, args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise DemoError(f"{module} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.strip()


async def run_demo(interactive: bool) -> int:
    config = load_config()
    stack = EmbeddedStack(config)
    print("starting the embedded stack (Temporal, forge, offline model, worker)...")
    await stack.temporal.ensure_running()
    client = await Client.connect(
        config.temporal.address,
        namespace=config.temporal.namespace,
        data_converter=pydantic_data_converter,
    )
    repo = RepoRef(forge_url=config.forge.url, owner=FORGE_ADMIN, name=REPO_NAME)
    await _terminate_leftover(client, IssueRef(repo=repo, number=1).workflow_id)
    await stack.start(fresh_forge=True)
    issue, event = await _seed(config, stack, repo)
    # Fire the starter exactly as a Gitea Actions job would.
    event_path = stack.state_dir / "event.json"
    event_path.write_text(json.dumps(event))
    actions_env = {
        **stack.env(),
        "GITEA_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": repo.full_name,
        "GITHUB_SERVER_URL": config.forge.url,
    }
    print(_run_starter("starters.gitea_actions", [], actions_env))
    status = await _follow(client, issue, stack.env(), interactive)
    described = await client.get_workflow_handle(issue.workflow_id).describe()
    print_summary(status, issue, ui_link(config, issue.workflow_id, described.run_id))
    return 0 if status.outcome == "pr_opened" else 1


async def _seed(
    config: AutopilotConfig, stack: EmbeddedStack, repo: RepoRef
) -> tuple[IssueRef, dict[str, Any]]:
    """The demo repository with its bug, the issue, and the label event Gitea would send."""
    seeder = Seeder(config.forge.url, stack.forge_token())
    try:
        await seeder.create_repo(REPO_NAME, DEMO / "repo")
        created = await seeder.open_issue(repo.owner, repo.name, DEMO / "issue.md")
        number = created["number"]
        label = await seeder.add_label(repo.owner, repo.name, number, config.trigger.label)
        event = await seeder.label_event(repo.owner, repo.name, number, label)
    finally:
        await seeder.aclose()
    print(f"seeded {config.forge.url}/{repo.full_name} with issue #{number}: {created['title']}")
    return IssueRef(repo=repo, number=number), event


async def _follow(
    client: Client, issue: IssueRef, env: dict[str, str], interactive: bool
) -> IssueStatus:
    """Print each stage as the run reaches it, approve the plan, and wait for the outcome."""
    started = time.monotonic()
    approved = False
    last_line = ""
    while True:
        if time.monotonic() - started > DEMO_TIMEOUT_SECONDS:
            raise DemoError(f"no pull request after {DEMO_TIMEOUT_SECONDS}s; see the Web UI")
        status = await _status(client, issue.workflow_id)
        if status is not None:
            line = f"  stage: {status.stage}" + (
                f" (waiting for {status.waiting_for})" if status.waiting_for else ""
            )
            if line != last_line:
                print(line, flush=True)
                last_line = line
            if status.waiting_for == "approval" and not approved:
                _approve(issue, env, interactive)
                approved = True
            if status.outcome != "running":
                return status
        await asyncio.sleep(0.5)


def _approve(issue: IssueRef, env: dict[str, str], interactive: bool) -> None:
    args = ["--repo", issue.repo.full_name, "--issue", str(issue.number), "--approve"]
    if interactive:
        print(
            "  approve the plan (see the plan comment on the issue):\n"
            f"    python -m starters.approve {' '.join(args)} --as you"
        )
        return
    print("  " + _run_starter("starters.approve", [*args, "--as", "demo-maintainer"], env))


def print_summary(status: IssueStatus, issue: IssueRef, link: str) -> None:
    print()
    print(f"outcome:       {status.outcome}")
    print(f"pull request:  {status.pr_url or '-'}")
    print(f"temporal ui:   {link}")
    print()
    print(f"{'stage':14}{'duration':>10}")
    for timing in status.timings:
        seconds = timing.seconds
        print(f"{timing.stage:14}{'' if seconds is None else f'{seconds:9.1f}s':>10}")
    print()
    model = status.model
    if model is not None and model.total.calls:
        print(f"{'model use':24}{'tier':>10}{'calls':>6}{'input':>8}{'output':>8}{'cost':>10}")
        rows = [(f"stage {k}", model.stage_tier(k), u) for k, u in model.usage_by_stage.items()]
        rows += [(f"task {k}", model.tiers.get(k, ""), u) for k, u in model.usage_by_task.items()]
        for name, tier, used in rows:
            print(
                f"{name[:24]:24}{tier[:10]:>10}{used.calls:>6}"
                f"{used.input_tokens:>8}{used.output_tokens:>8}{used.cost_usd:>10.4f}"
            )
        total = model.total
        print(
            f"{'total':24}{'':>10}{total.calls:>6}{total.input_tokens:>8}"
            f"{total.output_tokens:>8}{total.cost_usd:>10.4f}  (USD)"
        )
    else:
        print(f"{'tokens':14}{'calls':>6}{'input':>9}{'output':>9}")
        for stage, used in status.usage.items():
            print(f"{stage:14}{used.calls:>6}{used.input_tokens:>9}{used.output_tokens:>9}")
        total = status.total_usage
        print(f"{'total':14}{total.calls:>6}{total.input_tokens:>9}{total.output_tokens:>9}")
    attempts = ", ".join(f"{k} {v}" for k, v in sorted(status.attempts.items()))
    print(f"\nattempts: {attempts}")
    if status.error:
        print(f"error: {status.error}")
    print("\nThe stack keeps running so you can look around; stop it with: make stop")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__)
    parser.add_argument(
        "--interactive", action="store_true", help="wait for you to approve the plan"
    )
    args = parser.parse_args()
    run_main(lambda: run_demo(args.interactive), "demo", (DemoError, ProcessError, SeedError))


if __name__ == "__main__":
    main()
