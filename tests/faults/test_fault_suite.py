"""No silent endings: the demo issue, run many times under faults on the real stack.

Every run (``tests/faults/runs.py``) is an issue of the one demo repository, carried out by a
worker process of its own whose forge and model URLs are its routes through the fault proxies
(``devstack/faults``): they fail, stall, reset, lose the answers of successful writes and land
writes late, on API and git traffic alike; some runs have their worker SIGKILLed mid-run and
started again. Runs go ``AUTOPILOT_FAULT_PARALLEL`` at a time, longest first. For each run: it
opened its PR or ended visibly (``tests/faults/evidence.py`` says what that means, and what a
run waiting on ``needs-human`` is), with no duplicate PRs, comments, labels or commits.
Finally the Web UI's query for silent endings, ``Outcome="running" AND
ExecutionStatus!="Running"``, lists nothing. The report (fault mix, outcomes, stage timings,
every injected fault) is printed at the end of the session, and written to
``$AUTOPILOT_FAULT_REPORT`` when set.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest

from domain.names import SA_OUTCOME, SA_STAGE
from tests.faults.conftest import REPORT, Suite
from tests.faults.evidence import ending, judge, repository_duplicates
from tests.faults.harness import RunRecord, carry_out
from tests.faults.runs import RUNS, RunSpec
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]

# Runs at once: enough to keep the wall time to a few minutes on two cores.
PARALLEL = int(os.environ.get("AUTOPILOT_FAULT_PARALLEL", "10"))
SEED = int(os.environ.get("AUTOPILOT_FAULT_SEED", "20240"))
# A comma-separated subset of run names, to debug a few (the suite's own checks then skip).
ONLY = {n for n in os.environ.get("AUTOPILOT_FAULT_ONLY", "").split(",") if n}
SELECTED = tuple(spec for spec in RUNS if not ONLY or spec.name in ONLY)
LEFT_RUNNING = 'Outcome="running" AND ExecutionStatus!="Running"'
Records = dict[str, RunRecord | BaseException]


@pytest.fixture(scope="module")
async def records(suite: Suite, request: pytest.FixtureRequest) -> Records:
    gate = asyncio.Semaphore(PARALLEL)
    started = time.monotonic()

    async def one(index: int, spec: RunSpec) -> RunRecord:
        async with gate:
            return await carry_out(suite, spec, SEED + index)

    order = sorted(((RUNS.index(s), s) for s in SELECTED), key=lambda p: -p[1].weight)
    done = await asyncio.gather(*(one(i, s) for i, s in order), return_exceptions=True)
    results: Records = {spec.name: result for (_, spec), result in zip(order, done, strict=True)}
    request.config.stash[REPORT] = report(results, time.monotonic() - started)
    return results


def report(results: Records, wall: float) -> list[str]:
    lines = [f"{len(results)} runs, {PARALLEL} at a time, seed {SEED}: {wall:.0f} s wall time"]
    kinds: Counter[str] = Counter()
    for spec in SELECTED:
        result = results[spec.name]
        if isinstance(result, BaseException):
            lines.append(f"  {spec.name:26} HARNESS ERROR {_chain(result)}")
            continue
        injected = Counter(f"{proxy} {f.kind}" for proxy, f in result.faults)
        kinds.update(injected)
        kills = f" kills at {result.kills} s" if result.kills else ""
        faults = ", ".join(f"{n}x {k}" for k, n in sorted(injected.items())) or "none"
        problems = judge(result)
        verdict = "ok" if not problems else "PROBLEMS: " + "; ".join(problems)
        timings = result.first.timings if result.first else ""
        lines.append(
            f"  {spec.name:26} {ending(result):28} {result.seconds:5.0f} s [{timings}]  "
            f"faults: {faults}{kills}  -> {verdict}"
        )
    lines.append("fault mix: " + ", ".join(f"{n}x {k}" for k, n in sorted(kinds.items())))
    lines.append("faults injected, per run (seconds into the run's plan):")
    for spec in SELECTED:
        result = results[spec.name]
        if isinstance(result, RunRecord):
            lines.append(f"  {spec.name} #{result.number} {result.workflow_id}")
            lines += [f"    {proxy:5} {fault}" for proxy, fault in result.faults]
    return lines


def _chain(err: BaseException | None) -> str:
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__ or err.__context__
    return " <- ".join(parts)


@pytest.mark.parametrize("name", [spec.name for spec in SELECTED])
async def test_run_opened_its_pr_or_ended_visibly_without_duplicates(
    records: Records, name: str
) -> None:
    record = records[name]
    if isinstance(record, BaseException):
        raise record
    assert record.faults or record.kills, f"{name}: no fault was injected, no worker killed"
    if record.spec.kills:
        assert len(record.kills) == len(record.spec.kills), f"kills done: {record.kills}"
    problems = judge(record)
    assert not problems, "\n".join(
        [
            f"{name} ({record.workflow_id}):",
            *problems,
            "faults:",
            *(str(f) for _, f in record.faults),
        ]
    )


async def test_every_run_was_faulted_and_every_fault_kind_was_met(records: Records) -> None:
    if ONLY:
        pytest.skip("a subset of the runs")
    ran = [r for r in records.values() if isinstance(r, RunRecord)]
    faulted = [r for r in ran if r.faults or r.kills]
    assert len(faulted) >= 20, [r.spec.name for r in ran if r not in faulted]
    met = {(proxy, f.kind) for r in ran for proxy, f in r.faults}
    wanted = {(p, k) for p in ("forge", "model") for k in ("fail", "stall", "reset", "lose")}
    assert wanted <= met, f"never injected: {sorted(wanted - met)}"
    assert any(".git/" in f.path for r in ran for _, f in r.faults), "no git traffic faulted"
    assert sum(len(r.kills) for r in ran) >= 3


async def test_the_repository_has_one_label_per_name(suite: Suite, records: Records) -> None:
    """Every run ensures the same labels on the one repository, at the same time, under faults."""
    labels = await suite.seeder.call("GET", f"/repos/{suite.repo}/labels?limit=50")
    assert not repository_duplicates([label["name"] for label in labels]), labels


async def test_no_run_is_left_running_after_its_execution_ended(
    suite: Suite, records: Records
) -> None:
    """The Web UI's list of silent endings is empty (visibility is eventually consistent:
    first wait until it has caught up with every run that ended)."""
    ended = {
        r.workflow_id
        for r in records.values()
        if isinstance(r, RunRecord) and r.first is not None and not r.first.timed_out
    }

    async def listed() -> tuple[set[str], set[str]]:
        base = 'WorkflowType="IssueWorkflow" AND ExecutionStatus'
        closed = {w.id async for w in suite.client.list_workflows(base + '!="Running"')}
        running = {w.id async for w in suite.client.list_workflows(base + '="Running"')}
        return closed, running

    await eventually(
        listed,
        lambda seen: ended <= seen[0] and not ended & seen[1],
        timeout=60,
        interval=0.5,
        what="visibility listing every ended run as closed",
    )
    silent = [w async for w in suite.client.list_workflows(LEFT_RUNNING)]
    assert not silent, "\n".join(
        [f"{LEFT_RUNNING} lists {len(silent)} executions:"]
        + [
            f"  {w.id} run {w.run_id} {w.status.name if w.status else '?'} "
            f"Stage={w.typed_search_attributes.get(SA_STAGE)!r} "
            f"Outcome={w.typed_search_attributes.get(SA_OUTCOME)!r}"
            for w in silent
        ]
    )
