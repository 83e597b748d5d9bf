"""Scenario files: the replay server's answers, as rules matched against each request.

A scenario is a YAML list of rules (or a mapping with ``rules:`` and an optional ``model:``).
The first rule whose ``schema`` names the requested answer schema and whose every ``when``
substring occurs in the request's messages answers it. Matching never depends on earlier
requests, so retries and re-runs get the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message is one line for people."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    schema_name: str = Field(alias="schema", min_length=1)
    when: list[str] = Field(default_factory=list)
    reply: dict[str, Any] | list[Any] | str | None = None
    finish_reason: str = "stop"
    status: int = Field(default=200, ge=200, le=599)
    error_body: dict[str, Any] | str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    note: str = Field(default="", description="Why the rule exists, for people and the log")

    @model_validator(mode="after")
    def _reply_when_ok(self) -> Rule:
        if self.status == 200 and self.reply is None:
            raise ValueError("a rule with status 200 needs a reply")
        return self

    def matches(self, schema_name: str, text: str) -> bool:
        return self.schema_name == schema_name and all(s in text for s in self.when)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "replay"
    rules: list[Rule] = Field(min_length=1)

    def match(self, schema_name: str, text: str) -> tuple[int, Rule] | None:
        for index, rule in enumerate(self.rules):
            if rule.matches(schema_name, text):
                return index, rule
        return None


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
