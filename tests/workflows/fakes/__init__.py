"""In-memory stand-ins for the activities, registered under the real activity names.

They record what the workflow asked for, so tests assert on behaviour (comments, labels,
model calls) rather than on the workflow's internals. One module per concern: ``forge``,
``model`` and ``workspace``; ``FakeWorld`` combines them for a whole run.
"""

from tests.workflows.fakes.forge import FakeForge
from tests.workflows.fakes.model import COSTED_USAGE, USAGE, FakeModel, two_task_plan
from tests.workflows.fakes.workspace import FakeWorkspace
from tests.workflows.fakes.world import FakeWorld

__all__ = [
    "COSTED_USAGE",
    "USAGE",
    "FakeForge",
    "FakeModel",
    "FakeWorkspace",
    "FakeWorld",
    "two_task_plan",
]
