"""Best of N: several loops try a task at once, each on its own branch and tier; the tests pick.

Each candidate is a child ``TaskWorkflow`` that runs the task's loop and then its tests. Of the
candidates whose tests pass (all of them, when none passes) the smallest change wins, earlier
(cheaper) candidates first on a tie. The task's budget is shared among the candidates.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import names
from domain.agent import AgentSummary
from domain.budget import ModelGatewayStatus
from domain.change import DiffSummary
from domain.task import TaskResult, TaskWorkflowInput
from domain.tiers import Tier
from domain.workspace import DiffSummaryInput
from workflows.calls import Activities
from workflows.children import inherited_search_attributes

TIER_ORDER: tuple[Tier, ...] = ("fast", "balanced", "advanced")
CANDIDATE_CLOSE_POLICY = workflow.ParentClosePolicy.REQUEST_CANCEL


def candidate_input(input: TaskWorkflowInput, number: int) -> TaskWorkflowInput:
    """Candidate ``number`` (1..N): its own branch, tier (rotated from the task's), budget."""
    count = input.limits.candidates
    model = input.model
    if model is not None:
        routing = model.routing
        first = TIER_ORDER.index(routing.tier_for("edits", input.task))
        tier = TIER_ORDER[(first + number - 1) % len(TIER_ORDER)]
        overrides = {**routing.overrides, "edits": tier, "fix": tier}
        budget = model.budget.model_copy(
            update={"task_usd": model.budget.task_usd / count if model.budget.task_usd else None}
        )
        model = model.model_copy(
            update={
                "routing": routing.model_copy(update={"overrides": overrides}),
                "budget": budget,
            }
        )
    branch = f"{input.workspace.branch}-c{number}"
    return input.model_copy(
        update={
            "workspace": input.workspace.model_copy(
                update={"branch": branch, "key": f"{input.workspace.key}/c{number}"}
            ),
            "limits": input.limits.model_copy(update={"candidates": 1}),
            "candidate": number,
            "max_test_attempts": max(1, input.max_test_attempts),
            "model": model,
        }
    )


async def best_of(input: TaskWorkflowInput, calls: Activities) -> TaskResult:
    tries = [candidate_input(input, n) for n in range(1, input.limits.candidates + 1)]
    parent = workflow.info().workflow_id
    attributes = inherited_search_attributes()
    await calls.mode.before_new_run()  # no new candidates while the mode holds the run
    runs = [
        workflow.execute_child_workflow(
            names.TASK_WORKFLOW,
            candidate,
            id=f"{parent}/candidate/{candidate.candidate}",
            result_type=TaskResult,
            parent_close_policy=CANDIDATE_CLOSE_POLICY,
            search_attributes=attributes,
            static_summary=f"task {input.task.id}, candidate {candidate.candidate}",
            memo=workflow.memo() or None,  # its activity queues (domain.capacity)
        )
        for candidate in tries
    ]
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    done = [(c, r) for c, r in zip(tries, outcomes, strict=True) if isinstance(r, TaskResult)]
    if not done:
        causes = "; ".join(str(r) for r in outcomes)
        raise ApplicationError(
            f"every candidate failed: {causes}", type=names.ERR_TASK_FAILED, non_retryable=True
        )
    sizes = []
    for candidate, _ in done:
        diff = await calls.run(
            names.DIFF_SUMMARY, DiffSummaryInput(workspace=candidate.workspace), DiffSummary
        )
        sizes.append(diff.additions + diff.deletions)
    green = [i for i, (_, r) in enumerate(done) if r.test_run is not None and r.test_run.passed]
    pool = green or list(range(len(done)))
    best = min(pool, key=lambda i: (sizes[i], i))
    return _merged(done[best][1], [r for _, r in done], _verdict(done, sizes, green, best))


def _verdict(
    done: list[tuple[TaskWorkflowInput, TaskResult]], sizes: list[int], green: list[int], best: int
) -> str:
    parts = [
        f"candidate {c.candidate}: {sizes[i]} changed lines, tests "
        + ("passed" if i in green else "failed")
        for i, (c, _) in enumerate(done)
    ]
    return f"best of {len(done)}: candidate {done[best][0].candidate} ({'; '.join(parts)})"


def _merged(best: TaskResult, all_results: list[TaskResult], verdict: str) -> TaskResult:
    """The winner's branch and commits; everyone's cost, since everyone was paid for."""
    usage = best.usage
    model = ModelGatewayStatus() if best.model is not None else None
    for result in all_results:
        if result is not best:
            usage = usage + result.usage
        if model is not None and result.model is not None:
            model.merge(result.model)
    loops = [
        loop.model_copy(update={"summary": f"{verdict}. {loop.summary}"}) if i == 0 else loop
        for i, loop in enumerate(best.loops)
    ] or [
        AgentSummary(
            purpose="task", turns=0, finished=False, summary=verdict, steps=[], tool_calls=0
        )
    ]
    return best.model_copy(update={"usage": usage, "model": model, "loops": loops})
