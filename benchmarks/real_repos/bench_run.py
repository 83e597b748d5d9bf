"""One case of the real-repository benchmark: seed, issue, run to its end, numbers, evaluation."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from benchmarks.real_repos import sources
from benchmarks.real_repos.evaluate import evaluate
from benchmarks.real_repos.sources import Case
from benchmarks.real_repos.stack import Stack
from domain.estimate import actual_after_approval
from domain.run import IssueResult, IssueStatus
from starters.common import issue_ref, start_issue_run

POLL_SECONDS = 1.0
COMMENT_CHARS = 1500


async def _status(handle: WorkflowHandle[Any, IssueResult]) -> IssueStatus | None:
    try:
        return await handle.query("status", result_type=IssueStatus)
    except RPCError:
        return None  # not started yet, or between runs of a continue-as-new


async def wait_for_end(
    handle: WorkflowHandle[Any, IssueResult], timeout: float
) -> tuple[str, IssueStatus | None]:
    """The run's outcome and last status; a run that asks a person or runs out of time is
    terminated and reported as ``waiting:<what>`` or ``timeout``."""
    deadline = time.monotonic() + timeout
    status: IssueStatus | None = None
    while time.monotonic() < deadline:
        status = await _status(handle) or status
        if status is not None and status.outcome != "running":
            result = await handle.result()
            return result.outcome, result.status
        if status is not None and status.waiting_for is not None:
            await handle.terminate(reason=f"benchmark: the run waits for {status.waiting_for}")
            return f"waiting:{status.waiting_for}", status
        await asyncio.sleep(POLL_SECONDS)
    await handle.terminate(reason="benchmark: case timeout")
    return "timeout", status


def model_numbers(status: IssueStatus) -> dict[str, Any]:
    """Calls and tokens of the whole run, and its largest single answer (agent loops)."""
    usage = status.total_usage
    loops = status.loops.values()
    return {
        "calls": usage.calls,
        "cached_calls": usage.cached_calls,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "largest_answer_tokens": max((loop.largest_answer_tokens for loop in loops), default=0),
        "output_by_stage": {stage: u.output_tokens for stage, u in status.usage.items()},
        "gateway_output_tokens": status.model.total.output_tokens if status.model else None,
        "loops": {
            name: {
                "turns": loop.turns,
                "tool_calls": loop.tool_calls,
                "finished": loop.finished,
                "largest_answer_tokens": loop.largest_answer_tokens,
            }
            for name, loop in status.loops.items()
        },
        "verify_runs": status.attempts.get("verify"),
        "input_by_stage": {stage: u.input_tokens for stage, u in status.usage.items()},
        "estimate": estimate_numbers(status),
    }


def estimate_numbers(status: IssueStatus) -> dict[str, Any] | None:
    """The approved plan's estimate against what the run used after approval, in tokens
    (the replay model is unpriced)."""
    estimate, model = status.cost_estimate, status.model
    if estimate is None or model is None:
        return None
    actual = actual_after_approval(model.total, model.usage_by_stage.get("plan"))
    return {
        "basis": estimate.basis,
        "estimated_tokens": estimate.total_tokens,
        "actual_tokens": actual.total,
        "actual_over_estimate": round(actual.total / max(1, estimate.total_tokens), 3),
    }


async def _open(stack: Stack, case: Case, upstream: Path, work: Path) -> tuple[str, int]:
    """The case's forge repository, seeded at the base, and its issue's number."""
    full = stack.repo_of(case)
    owner, name = full.split("/")
    seed = sources.export_base(case, upstream, work / "seed" / case.id)
    await stack.seeder.create_repo(name, seed, tags=sources.release_tag(case, upstream))
    body = {"title": case.data["title"], "body": case.data["issue_body"]}
    issue = await stack.seeder.call("POST", f"/repos/{owner}/{name}/issues", body)
    return full, int(issue["number"])


def _comments_tail(stack: Stack, full: str, number: int) -> list[str]:
    """The issue's last two comments (what a person asked to help would read), shortened."""
    owner, name = full.split("/")
    comments = stack.forge.api("GET", f"/repos/{owner}/{name}/issues/{number}/comments")
    return [str(c.get("body", ""))[-COMMENT_CHARS:] for c in comments[-2:]]


async def _judge(
    stack: Stack, case: Case, upstream: Path, work: Path, status: IssueStatus
) -> dict[str, Any]:
    full = stack.repo_of(case)
    owner, name = full.split("/")
    pull = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls/{status.pr_number}")
    branch = str(pull["head"]["ref"])
    return await asyncio.to_thread(
        evaluate,
        case,
        upstream,
        stack.forge.clone_url(owner, name),
        branch,
        stack.forge.token,
        work / "evaluate" / case.id,
    )


async def run_case(
    stack: Stack, case: Case, upstream: Path, work: Path, timeout: float
) -> dict[str, Any]:
    """The case's record (see ``benchmarks.real_repo_bench``)."""
    record: dict[str, Any] = {"case": case.id, "repo": case.repo, "outcome": "error"}
    record["gold_tokens"] = sources.gold_tokens(case, upstream)
    record["largest_source_lines"] = sources.largest_source_lines(case, upstream)
    record.update(green=False, model=None, evaluation=None)
    started = time.monotonic()
    try:
        full, number = await _open(stack, case, upstream, work)
        ref = issue_ref(stack.config, full, number)
        run_started = time.monotonic()
        await start_issue_run(stack.client, stack.config, ref)
        handle = stack.client.get_workflow_handle(ref.workflow_id, result_type=IssueResult)
        outcome, status = await wait_for_end(handle, timeout)
        record["run_s"] = round(time.monotonic() - run_started, 1)
        record["outcome"] = outcome
        if status is not None:
            record["model"] = model_numbers(status)
            record["pr_url"] = status.pr_url
            record["error"] = status.error
            record["stages"] = [[t.stage, t.seconds] for t in status.timings]
        if outcome == "pr_opened" and status is not None:
            evaluation = await _judge(stack, case, upstream, work, status)
            record["evaluation"] = evaluation
            record["green"] = evaluation["fail_to_pass_ok"] and evaluation["full_suite_ok"]
        else:
            record["issue_comments_tail"] = _comments_tail(stack, full, number)
    except Exception as err:  # one case's failure is reported, the others still run
        record["error"] = f"{type(err).__name__}: {' '.join(str(err).split())[:1000]}"
    record["wall_s"] = round(time.monotonic() - started, 1)
    print(
        f"real_repo_bench: {case.id}: {record['outcome']}, green={record['green']}, "
        f"{record['wall_s']} s",
        file=sys.stderr,
        flush=True,
    )
    return record
