"""Model tokens and cost per stage of the demo run, against the offline replay model.

    python -m benchmarks.model_cost

Sends the demo's model calls (plan, edits for each task, the fix, the review; the inputs the
demo workflow sends) through the real model activities, tier routing, breakers and answer cache
to the replay server, priced with the tier prices of the shipped config/autopilot.yaml.
Prints one JSON document: per stage {calls, input_tokens, output_tokens, cost_usd, tier}, the
totals, the plan's pre-implementation estimate beside the actual cost, and the cache effect.
See benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.breaker import CircuitBreaker
from activities.model.cache import AnswerCache
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.model.routing import ModelRouter, Route
from config.settings import load_config
from devstack.model_server.testing import running_model_server
from devstack.stack import DEMO_SCENARIO
from domain.change import DiffSummary, EditSet, TestRun
from domain.estimate import estimate_plan_cost
from domain.issue import IssueInfo
from domain.model import DraftEditsInput, DraftPlanInput, DraftPlanOutput, ReviewChangeInput
from domain.plan import Plan, PlanTask
from domain.tiers import ModelRouting, Tier, TierModel
from domain.usage import TokenUsage

DEMO = DEMO_SCENARIO.parent
PROVIDER = "replay"
MODEL = "replay-demo"
# The shipped config's tier prices (USD per million tokens); the replay server answers every
# tier, so only the prices tell the tiers apart.
DEMO_PRICES: dict[Tier, tuple[float, float]] = {
    tier: (spec.input_usd_per_mtok, spec.output_usd_per_mtok)
    for tier, spec in load_config(env={}).model.tiers.items()
}
ALWAYS_SENT = "shop/pricing.py"  # the demo workflow sends the module under fix with every task
# The verify stage's failing output that the fix call gets as feedback.
FAILING_TESTS = "FAILED tests/test_pricing.py::test_cart_badge_agrees_with_price[10]\n1 failed"
CACHE_STAGE = "plan"


def demo_routing() -> ModelRouting:
    return ModelRouting(
        tiers={
            tier: TierModel(
                provider=PROVIDER, model=MODEL, input_usd_per_mtok=i, output_usd_per_mtok=o
            )
            for tier, (i, o) in DEMO_PRICES.items()
        }
    )


def demo_issue() -> IssueInfo:
    title, _, body = (DEMO / "issue.md").read_text().partition("\n")
    return IssueInfo(
        number=1,
        title=title.removeprefix("# ").strip(),
        body=body.strip(),
        state="open",
        html_url="http://forge.test/demo/shop/issues/1",
        author="customer",
    )


def demo_files() -> dict[str, str]:
    root = DEMO / "repo"
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def apply(files: dict[str, str], edits: EditSet) -> None:
    for edit in edits.edits:
        if edit.action == "delete":
            files.pop(edit.path, None)
        else:
            files[edit.path] = edit.content or ""


def diff_of(before: dict[str, str], after: dict[str, str]) -> DiffSummary:
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    lines: list[str] = []
    for path in changed:
        lines += difflib.unified_diff(
            before.get(path, "").splitlines(keepends=True),
            after.get(path, "").splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    return DiffSummary(
        base_sha="base",
        head_sha="head",
        files=changed,
        additions=added,
        deletions=removed,
        diff="".join(lines),
    )


class Recorder:
    """Usage and tiers per stage, as the gateway's status would sum them."""

    def __init__(self) -> None:
        self.usage: dict[str, TokenUsage] = {}
        self.tiers: dict[str, set[str]] = {}

    def add(self, stage: str, tier: Tier, usage: TokenUsage) -> None:
        self.usage[stage] = self.usage.get(stage, TokenUsage()) + usage
        self.tiers.setdefault(stage, set()).add(tier)

    def report(self) -> dict[str, dict[str, Any]]:
        return {
            stage: {
                "calls": u.calls,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cost_usd": u.cost_usd,
                "tier": ",".join(sorted(self.tiers[stage])),
            }
            for stage, u in self.usage.items()
        }


async def measure(model_url: str) -> dict[str, Any]:
    """Run the demo's model calls against the replay server at ``model_url``; the report."""
    routing = demo_routing()
    providers: list[OpenAICompatibleProvider] = []
    model = _model_activities(model_url, routing, providers)
    env = ActivityEnvironment()
    stages = Recorder()
    issue = demo_issue()
    files = demo_files()
    original = dict(files)
    try:
        plan_input = DraftPlanInput(
            issue=issue, repo_files=sorted(files), tier=routing.tier_for("plan")
        )
        planned = await env.run(model.draft_plan, plan_input)
        stages.add("plan", routing.tier_for("plan"), planned.usage)
        plan: Plan = planned.plan

        async def edits(purpose: str, task: PlanTask, feedback: str = "") -> None:
            stage = "edits" if purpose == "task" else purpose
            tier = routing.tier_for(stage, task)
            scope = {p: files[p] for p in [*task.files, ALWAYS_SENT] if p in files}
            fields = {"purpose": purpose, "issue": issue, "plan": plan, "task": task}
            request = DraftEditsInput.model_validate(
                {**fields, "files": scope, "feedback": feedback, "tier": tier}
            )
            out = await env.run(model.draft_edits, request)
            apply(files, out.edits)
            stages.add(stage, tier, out.usage)

        ordered = plan.in_dependency_order()
        for task in ordered:
            await edits("task", task)
        await edits("fix", ordered[-1], FAILING_TESTS)  # the workflow fixes under the last task

        passing = TestRun(passed=True, exit_code=0, duration_seconds=1.0, output_tail="42 passed")
        review_tier = routing.tier_for("review")
        review = ReviewChangeInput(
            issue=issue,
            plan=plan,
            diff=diff_of(original, files),
            test_run=passing,
            tier=review_tier,
        )
        reviewed = await env.run(model.review_change, review)
        stages.add("review", review_tier, reviewed.usage)

        # The same stage again with the cache on: the identical request is not paid twice.
        again = await env.run(model.draft_plan, plan_input)
    finally:
        for provider in providers:
            await provider.aclose()

    return _report(stages, plan, routing, planned.usage, again)


def _model_activities(
    model_url: str, routing: ModelRouting, providers: list[OpenAICompatibleProvider]
) -> ModelActivities:
    """The worker's model activities, every tier served by the replay server at ``model_url``."""

    def factory(name: str, model: str) -> OpenAICompatibleProvider:
        providers.append(OpenAICompatibleProvider(model_url, model))
        return providers[-1]

    breakers = {PROVIDER: CircuitBreaker(PROVIDER, 5, 30)}
    default = Route(PROVIDER, MODEL, factory(PROVIDER, MODEL), routing.model_for("balanced"))
    return ModelActivities(
        router=ModelRouter.build(routing, factory, breakers, default), cache=AnswerCache()
    )


def _report(
    stages: Recorder,
    plan: Plan,
    routing: ModelRouting,
    first_plan: TokenUsage,
    again: DraftPlanOutput,
) -> dict[str, Any]:
    total = sum(stages.usage.values(), TokenUsage())
    estimate = estimate_plan_cost(plan, routing)
    estimated_part = round(stages.usage["edits"].cost_usd + stages.usage["review"].cost_usd, 6)
    first = first_plan.cost_usd
    return {
        "prices_usd_per_mtok": {t: {"input": i, "output": o} for t, (i, o) in DEMO_PRICES.items()},
        "stages": stages.report(),
        "total": {
            "calls": total.calls,
            "input_tokens": total.input_tokens,
            "output_tokens": total.output_tokens,
            "cost_usd": total.cost_usd,
        },
        "estimate": {
            "covers": "one edits call per task and one review (no plan, no fix)",
            "estimate_usd": estimate.total_cost_usd,
            "actual_usd": estimated_part,
            "actual_over_estimate": round(estimated_part / estimate.total_cost_usd, 3),
            "tasks": {t.task_id: t.tier for t in estimate.tasks},
        },
        "cache": {
            "stage": CACHE_STAGE,
            "first_cost_usd": first,
            "second_cost_usd": again.usage.cost_usd,
            "second_cached": again.cached,
            "second_over_first": round(again.usage.cost_usd / first, 3),
        },
    }


def run(scenario: Path = DEMO_SCENARIO) -> dict[str, Any]:
    with running_model_server(scenario) as url:
        return asyncio.run(measure(url))


def main() -> None:
    try:
        report = run()
    except (RuntimeError, OSError) as err:
        print(f"model_cost: {err}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    print(json.dumps(report, indent=2))
    sys.stdout.flush()
    os._exit(0)  # as the other benchmarks: no interpreter teardown


if __name__ == "__main__":
    main()
