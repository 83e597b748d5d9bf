"""Scenario files: the replay server's answers, as rules matched against each request.

A scenario is a YAML list of rules (or a mapping with ``rules:`` and an optional ``model:``).
Matching never depends on earlier requests, so retries and re-runs get the same answer.

**Structured rules** (``schema`` and ``reply``) answer requests for a structured answer
(``response_format.json_schema.name``, or a forced tool): the first rule whose ``schema`` names
the requested answer schema and whose every ``when`` substring occurs in the request's messages
answers with its ``reply`` (JSON, or a string sent as is), or with ``status``/``error_body``.

**Trajectory rules** (``trajectory`` instead of ``reply``, no ``schema``) answer tool-calling
requests (``tools`` offered, none forced): the first one whose every ``when`` substring occurs in
the brief (the system and user words, not tool results) plays step N, where N is the number of
assistant messages already in the conversation::

    - when: ["Purpose: task", "Task: fix-parser"]
      trajectory:
        - tool_calls: [{name: view, arguments: {path: src/parser.py}}]
        - choices:                 # the first whose when_last_result substrings all occur
            - when_last_result: ["return a > b"]   # in the results of the previous turn
              tool_calls: [{name: str_replace, arguments: {path: src/parser.py,
                            old_str: "return a > b", new_str: "return a >= b"}}]
            - tool_calls: [{name: finish, arguments: {summary: already fixed}}]
        - text: a final answer without tool calls

A step has ``text`` (words), ``tool_calls`` or both; a ``when_last_result`` on a plain step must
match too. Argument names are renamed to the ones the request's tool schema uses where they are
known aliases (``file_text``/``content``, ``old_str``/``old_string``...). A conversation past the
last step, or with no matching choice, is answered with a 400 that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message is one line for people."""


# The schema name trajectory rules answer: requests that offer tools and force none.
TOOLS_SCHEMA = "tools"


class ToolCallSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class Step(BaseModel):
    """One assistant turn of a trajectory, or ``choices`` between turns for the same index."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    when_last_result: list[str] = Field(default_factory=list)
    choices: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if self.choices:
            if self.text or self.tool_calls or self.when_last_result:
                raise ValueError("a step has either choices or text/tool_calls, not both")
            if any(c.choices for c in self.choices):
                raise ValueError("choices cannot hold choices")
        elif not (self.text or self.tool_calls):
            raise ValueError("a step needs text or tool_calls")
        return self

    def pick(self, last_results: str) -> Step | None:
        for option in self.choices or [self]:
            if all(s in last_results for s in option.when_last_result):
                return option
        return None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    schema_name: str = Field(alias="schema", min_length=1)
    when: list[str] = Field(default_factory=list)
    reply: dict[str, Any] | list[Any] | str | None = None
    trajectory: list[Step] | None = Field(default=None, min_length=1)
    finish_reason: str = "stop"
    status: int = Field(default=200, ge=200, le=599)
    error_body: dict[str, Any] | str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    note: str = Field(default="", description="Why the rule exists, for people and the log")

    @model_validator(mode="before")
    @classmethod
    def _trajectory_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and "trajectory" in data and "schema" not in data:
            return {**data, "schema": TOOLS_SCHEMA}
        return data

    @model_validator(mode="after")
    def _reply_when_ok(self) -> Rule:
        if self.trajectory is not None:
            if self.reply is not None or self.status != 200:
                raise ValueError("a trajectory rule has no reply and no status")
            if self.schema_name != TOOLS_SCHEMA:
                raise ValueError("a trajectory rule answers tool-calling requests: no schema")
        elif self.status == 200 and self.reply is None:
            raise ValueError("a rule with status 200 needs a reply or a trajectory")
        return self

    def matches(self, schema_name: str, text: str) -> bool:
        return self.schema_name == schema_name and all(s in text for s in self.when)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "replay"
    rules: list[Rule] = Field(min_length=1)

    def match(self, schema_name: str, text: str) -> tuple[int, Rule] | None:
        """The first structured rule for ``schema_name`` whose substrings occur in ``text``."""
        for index, rule in enumerate(self.rules):
            if rule.trajectory is None and rule.matches(schema_name, text):
                return index, rule
        return None

    def match_trajectory(self, brief: str) -> tuple[int, Rule] | None:
        """The first trajectory rule whose substrings all occur in the conversation's brief."""
        for index, rule in enumerate(self.rules):
            if rule.trajectory is not None and rule.matches(TOOLS_SCHEMA, brief):
                return index, rule
        return None

    def answers(self, schema_name: str) -> bool:
        return any(r.trajectory is None and r.schema_name == schema_name for r in self.rules)


def load_scenario(path: Path) -> Scenario:
    """The validated scenario, or ScenarioError naming the file, the rule/key and the reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: unreadable YAML: {_yaml_reason(err)}") from None
    if isinstance(raw, list):
        raw = {"rules": raw}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a list of rules or a mapping with 'rules'")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        where = _location(first["loc"])
        raise ScenarioError(f"{path}: {where}: {first['msg']}{more}") from None


def _location(loc: tuple[int | str, ...]) -> str:
    """('rules', 3, 'when') -> 'rule 3, key when'; model-level errors name only the rule."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
        keys = ".".join(str(p) for p in parts[2:])
        return f"rule {parts[1]}" + (f", key {keys}" if keys else "")
    return "key " + (".".join(str(p) for p in parts) or "(top level)")


def _yaml_reason(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1} column {mark.column + 1}"
    return str(problem)
