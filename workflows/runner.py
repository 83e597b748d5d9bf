"""The sandbox every worker and replayer runs workflows in.

Workflow modules and their helpers are re-imported and checked by the sandbox on every run.
``domain`` passes through: it is the pure contract shared with activities (pydantic models and
names), so a model is one class on both sides and is not rebuilt for every workflow run.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = ("domain",)
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
)
