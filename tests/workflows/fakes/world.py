"""The whole fake world: forge, model and workspace fakes behind one set of attributes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from tests.workflows.fakes.forge import FakeForge
from tests.workflows.fakes.learning import FakeLearning
from tests.workflows.fakes.model import FakeModel
from tests.workflows.fakes.workspace import FakeWorkspace


@dataclass
class FakeWorld(FakeForge, FakeModel, FakeWorkspace, FakeLearning):
    """Scripted answers plus a record of every call, for one IssueWorkflow run and its tasks.

    Each concern keeps its own script and record (``FakeForge``, ``FakeModel``,
    ``FakeWorkspace``); the world accepts all of their settings, so a test reads
    ``FakeWorld(test_results=[False, True])`` and asserts on ``world.comments``.
    """

    def activities(self) -> list[Callable[..., Any]]:
        """Every fake, registered under the real activity names."""
        return [
            *self.forge_activities(),
            *self.model_activities(),
            *self.workspace_activities(),
            *self.learning_activities(),
        ]


def _no_shared_fields() -> None:
    """Two concerns declaring one field would silently share it: refuse at import."""
    concerns = (FakeForge, FakeModel, FakeWorkspace, FakeLearning)
    declared = [f.name for part in concerns for f in fields(part)]
    shared = {name for name in declared if declared.count(name) > 1}
    if shared:
        raise TypeError(f"fake world concerns share fields: {sorted(shared)}")


_no_shared_fields()
