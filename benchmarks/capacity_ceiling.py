"""The dev server's raw activity rate: no-op activities back to back, many workflows at once.

Nothing of Autopilot runs here; the rate is the ceiling any workflow on this server and machine
could reach, to read the capacity benchmark's own activity rate against.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

CEILING_WORKFLOW = "BenchActivityCeiling"
CEILING_ACTIVITY = "bench.noop"


@activity.defn(name=CEILING_ACTIVITY)
async def noop() -> None:
    return None


@workflow.defn(name=CEILING_WORKFLOW)
class ActivityCeilingWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> int:
        """As many no-op activities as fit in ``seconds``, one after another."""
        done = 0
        began = workflow.time()
        while workflow.time() - began < seconds:
            await workflow.execute_activity(
                CEILING_ACTIVITY, start_to_close_timeout=timedelta(seconds=30)
            )
            done += 1
        return done
