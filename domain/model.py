"""Inputs and outputs of the model activities (plan, edits, review), and the agent's tools."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.agent import ToolName
from domain.change import DiffSummary, EditSet, TestRun
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask
from domain.review import GENERAL_FOCUS, ReviewVerdict
from domain.tiers import ProviderRole, Tier
from domain.usage import TokenUsage


class DraftPlanInput(BaseModel):
    issue: IssueInfo
    repo_files: list[str] = Field(default_factory=list, description="Paths in the repository")
    repo_map: str = Field(default="", description="File tree and outline of definitions")
    notes: str = Field(default="", description="What the planner found with the read-only tools")
    feedback: list[str] = Field(
        default_factory=list, description="Earlier rejections of a plan, oldest first"
    )
    lessons: list[str] = Field(
        default_factory=list, description="Advisory lessons from earlier runs (data)"
    )
    approach: str = Field(default="", description="An experiment variant's planning instructions")
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class DraftPlanOutput(BaseModel):
    plan: Plan
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


EditPurpose = Literal["task", "fix", "review"]


class DraftEditsInput(BaseModel):
    """Ask for edits that carry out a task, fix failing tests, or answer a review."""

    purpose: EditPurpose
    issue: IssueInfo
    plan: Plan
    task: PlanTask
    files: dict[str, str] = Field(description="Current content of the files in scope")
    feedback: str = Field(default="", description="Test output, review comments or guidance")
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class DraftEditsOutput(BaseModel):
    edits: EditSet
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


class ReviewChangeInput(BaseModel):
    issue: IssueInfo
    plan: Plan
    diff: DiffSummary
    test_run: TestRun
    lessons: list[str] = Field(
        default_factory=list, description="Advisory lessons from earlier runs (data)"
    )
    focus: str = Field(default=GENERAL_FOCUS, description="What this reviewer looks at above all")
    tier: Tier | None = Field(default=None, description="None: the default (untiered) model")
    provider_role: ProviderRole = Field(default="primary", description="backup after failover")


class ReviewChangeOutput(BaseModel):
    verdict: ReviewVerdict
    usage: TokenUsage
    model: str
    provider: str = Field(default="", description="Configured provider name that answered")
    tier: Tier | None = None
    cached: bool = Field(default=False, description="Served from the answer cache, not paid")


# ----- the implementer's tools, as the model is offered them ----------------------------------

# A call whose arguments were not a JSON object is kept, with the raw text under this key, so
# the tool layer answers it with an error the model can act on (its schema check fails anyway).
RAW_ARGUMENTS_KEY = "_unparsed_arguments"


class ToolSpec(BaseModel):
    """One tool as a provider offers it: name, what it does, its arguments' JSON schema."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str
    parameters: dict[str, Any]


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PATH = {"type": "string", "description": "Relative to the repository root, with '/'"}

# The one definition of the seven tools' arguments; the tool layer carries them out.
TOOL_SPECS: dict[ToolName, ToolSpec] = {
    "view": ToolSpec(
        name="view",
        description=(
            "Show a file with line numbers, or list a directory. view_range [start, end] shows "
            "only those lines (1-based, inclusive; end -1 means to the end of the file)."
        ),
        parameters=_object(
            {
                "path": _PATH,
                "view_range": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            ["path"],
        ),
    ),
    "create": ToolSpec(
        name="create",
        description="Create a file, or replace a whole file, with content.",
        parameters=_object({"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    ),
    "str_replace": ToolSpec(
        name="str_replace",
        description=(
            "Replace old_str with new_str in a file. old_str must match the file exactly "
            "(whitespace included) and occur exactly once; include enough context lines."
        ),
        parameters=_object(
            {"path": _PATH, "old_str": {"type": "string"}, "new_str": {"type": "string"}},
            ["path", "old_str", "new_str"],
        ),
    ),
    "insert": ToolSpec(
        name="insert",
        description="Insert new_str after line insert_line of a file (0 inserts at the top).",
        parameters=_object(
            {
                "path": _PATH,
                "insert_line": {"type": "integer", "minimum": 0},
                "new_str": {"type": "string"},
            },
            ["path", "insert_line", "new_str"],
        ),
    ),
    "search": ToolSpec(
        name="search",
        description=(
            "Search the repository's files for a regular expression; answers path:line: text "
            "for each match. path limits the search to a file or directory."
        ),
        parameters=_object(
            {
                "pattern": {"type": "string"},
                "path": _PATH,
                "max_results": {"type": "integer", "minimum": 1},
                "offset": {"type": "integer", "minimum": 0},
            },
            ["pattern"],
        ),
    ),
    "run": ToolSpec(
        name="run",
        description=(
            "Run a shell command in the repository's root, in a sandbox without network, with "
            "the repository's environment; answers the exit code and the end of the output."
        ),
        parameters=_object(
            {"command": {"type": "string"}, "timeout_seconds": {"type": "integer", "minimum": 1}},
            ["command"],
        ),
    ),
    "finish": ToolSpec(
        name="finish",
        description="End the work: summary says what was done (or found) and why.",
        parameters=_object({"summary": {"type": "string"}}, ["summary"]),
    ),
}


def tool_specs(tools: Iterable[ToolName]) -> list[ToolSpec]:
    """The specs of ``tools``, in the order given, each once: copies, so a caller that adapts
    a schema (a wire format, a test) cannot change what every later call offers."""
    return [TOOL_SPECS[name].model_copy(deep=True) for name in dict.fromkeys(tools)]
