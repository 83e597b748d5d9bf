"""A workflow that only logs, to see what temporalio's workflow logger lines look like."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="LoggingProbe")
class LoggingProbe:
    @workflow.run
    async def run(self, secret: str) -> str:
        workflow.logger.info("drafting the plan", extra={"stage": "plan"})
        workflow.logger.warning("calling the forge with %s", secret)
        return workflow.info().run_id
