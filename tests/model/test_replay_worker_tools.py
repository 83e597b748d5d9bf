"""Gold-patch play against the worker's own brief and tools: what the agent loop will see.

The brief is rendered by ``activities.model.agent_prompts``; view, str_replace and create are
the worker's (``activities.workspace.tools``), with their argument checks and their messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from activities.model.agent_prompts import brief_message, system_prompt
from activities.workspace.tools import edits
from activities.workspace.tools.args import ToolError, check_arguments, line_range
from activities.workspace.tools.text import read_text, view_file
from devstack.model_server.toolbox import Wire, Workbench, converse
from domain.agent import ALL_TOOLS, AgentBrief
from domain.issue import IssueInfo
from domain.plan import Plan
from tests.model.test_replay_gold import (  # noqa: F401 (fixtures)
    CASE_TITLE,
    EXTRA,
    FIX,
    SOURCES,
    TEST_COMMAND,
    checkout,
    model_url,
    upstream,
)

MAX_BYTES = 1 << 20


class WorkerTools(Workbench):
    """The worker's view and edit tools; run and finish as the workbench does them."""

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        try:
            check_arguments(name, arguments)
            if name == "view":
                rel = arguments["path"]
                return view_file(rel, read_text(self.root, rel), line_range(arguments)), False
            if name == "str_replace":
                rel, old, new = arguments["path"], arguments["old_str"], arguments["new_str"]
                return edits.str_replace(self.root, rel, old, new, MAX_BYTES), False
            if name == "create":
                rel = arguments["path"]
                return edits.create(self.root, rel, arguments["content"], MAX_BYTES), False
        except ToolError as err:
            return str(err), True
        return super().call(name, arguments)


def worker_brief() -> str:
    plan = Plan.model_validate(
        {
            "summary": "Fix clamp.",
            "tasks": [
                {
                    "id": "fix-issue",
                    "title": CASE_TITLE,
                    "description": "Return the upper bound above the range.",
                    "files": SOURCES,
                    "acceptance_criteria": ["clamp(5, 1, 3) == 3"],
                }
            ],
        }
    )
    issue = IssueInfo(
        number=7,
        title=CASE_TITLE,
        body="clamp(5, 1, 3) gives 1.",
        state="open",
        html_url="http://forge.test/example/calc/issues/7",
        author="someone",
    )
    brief = AgentBrief(
        purpose="task", issue=issue, plan=plan, task=plan.tasks[0], test_command=TEST_COMMAND
    )
    return brief_message(brief).text


@pytest.mark.parametrize(("wire", "limit"), [("openai", 4096), ("anthropic", 150)])
def test_the_worker_tools_apply_the_gold_patch(
    model_url: str,  # noqa: F811
    upstream: Any,  # noqa: F811
    tmp_path: Path,
    wire: Wire,
    limit: int,
) -> None:
    work = checkout(upstream, tmp_path / "work")

    transcript = converse(
        model_url,
        worker_brief(),
        WorkerTools(work),
        wire=wire,
        max_tokens=limit,
        max_turns=60,
        system=system_prompt(list(ALL_TOOLS)),
    )

    for turn in transcript.turns:
        assert turn.stop in ("tool_calls", "tool_use"), turn
        assert not any(is_error for _, is_error in turn.results), turn.results
    assert (work / "calc/core.py").read_text() == FIX
    assert (work / "calc/extra.py").read_text() == EXTRA
    runs = [a for t in transcript.turns for n, a in t.calls if n == "run"]
    assert runs == [{"command": TEST_COMMAND}]  # read from the brief's "## Tests" section
    assert transcript.finished is not None and transcript.finished.startswith("Fixed: ")
