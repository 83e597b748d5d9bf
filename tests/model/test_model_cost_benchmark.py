"""benchmarks/model_cost.py: the demo's model calls priced per stage, against the replay server."""

from __future__ import annotations

from typing import Any

from benchmarks.model_cost import measure
from devstack.model_server.testing import running_model_server
from devstack.stack import DEMO_SCENARIO

STAGE_KEYS = {"calls", "input_tokens", "output_tokens", "cost_usd", "tier"}


async def test_report_prices_every_stage_and_compares_the_estimate() -> None:
    with running_model_server(DEMO_SCENARIO) as url:
        report: dict[str, Any] = await measure(url)

    stages = report["stages"]
    assert list(stages) == ["plan", "edits", "fix", "review"]
    assert all(set(s) == STAGE_KEYS and s["cost_usd"] > 0 for s in stages.values())
    assert stages["edits"]["calls"] == 2  # one per task of the demo plan
    assert report["total"]["calls"] == sum(s["calls"] for s in stages.values())
    assert report["total"]["cost_usd"] == round(sum(s["cost_usd"] for s in stages.values()), 6)
    estimate = report["estimate"]
    assert estimate["estimate_usd"] > 0 and estimate["actual_usd"] > 0
    assert report["cache"]["second_cached"] and report["cache"]["second_cost_usd"] == 0
    assert report["cache"]["first_cost_usd"] > 0
