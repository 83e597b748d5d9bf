"""A request's conversation read the same way from both wire formats.

OpenAI chat: ``system``/``user`` messages, ``assistant`` messages with ``tool_calls`` (JSON-string
``arguments``) and ``role: tool`` results with ``tool_call_id``. Anthropic Messages: ``system``
apart, ``assistant`` content with ``tool_use`` blocks and ``user`` content with ``tool_result``
blocks. Tool definitions come as ``{"type": "function", "function": {...parameters}}`` or as
``{"name", "input_schema"}``; either is read from either endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devstack.model_server.answer import count_tokens

# Argument names for the same thing in different tool schemas. A call is written with the first
# name of its group; when the request's tool defines another name of the group, that one is used.
ALIASES: tuple[tuple[str, ...], ...] = (
    ("path", "file", "file_path", "filename"),
    ("view_range", "range", "lines"),
    ("file_text", "content", "contents", "text"),
    ("old_str", "old", "old_string", "old_text", "search"),
    ("new_str", "new", "new_string", "new_text", "replacement"),
    ("insert_line", "line", "after_line"),
    ("command", "cmd"),
    ("summary", "message", "result"),
    ("pattern", "query", "regex"),
)


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: dict[str, Any]  # {} when the arguments sent were not a JSON object
    raw: str


@dataclass(frozen=True)
class Result:
    call_id: str
    text: str
    is_error: bool = False


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str = ""
    properties: frozenset[str] | None = None  # None: the tool gives no schema


@dataclass
class Conversation:
    brief: list[str] = field(default_factory=list)  # system and user words, not tool results
    texts: list[str] = field(default_factory=list)  # every message's words (rules match these)
    turn: int = 0  # assistant messages so far
    calls: list[Call] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    last_results: list[Result] = field(default_factory=list)  # after the last assistant message
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    tools_json: str = ""

    @property
    def brief_text(self) -> str:
        return "\n".join(self.brief)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def last_results_text(self) -> str:
        return "\n".join(r.text for r in self.last_results)

    def prompt_tokens(self) -> int:
        """Every message's words, every call's name and arguments, the tool definitions."""
        calls = "".join(c.name + c.raw for c in self.calls)
        return count_tokens(self.text + calls + self.tools_json)

    def history(self) -> list[tuple[Call, Result | None]]:
        return [(c, self.results.get(c.id)) for c in self.calls]

    def adapt(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` renamed to the names the request's tool ``name`` defines."""
        spec = self.tools.get(name)
        if spec is None or spec.properties is None:
            return dict(arguments)
        adapted: dict[str, Any] = {}
        for key, value in arguments.items():
            adapted[_rename(key, spec.properties)] = value
        return adapted


def argument(arguments: dict[str, Any], key: str) -> Any:
    """The value of ``key`` or of one of its aliases."""
    for group in ALIASES:
        if key in group:
            return next((arguments[k] for k in group if k in arguments), None)
    return arguments.get(key)


def _rename(key: str, properties: frozenset[str]) -> str:
    if key in properties:
        return key
    for group in ALIASES:
        if key in group:
            return next((k for k in group if k in properties), key)
    return key


def read_openai(body: dict[str, Any]) -> Conversation:
    conversation = Conversation()
    _read_tools(conversation, body.get("tools"))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        words = _words(message.get("content"))
        if words:
            conversation.texts.append(words)
        if role in ("system", "developer", "user") and words:
            conversation.brief.append(words)
        elif role == "assistant":
            conversation.turn += 1
            conversation.last_results = []
            for raw_call in message.get("tool_calls") or []:
                _openai_call(conversation, raw_call)
        elif role == "tool":
            _add_result(conversation, Result(str(message.get("tool_call_id") or ""), words))
    return conversation


def read_anthropic(body: dict[str, Any]) -> Conversation:
    conversation = Conversation()
    _read_tools(conversation, body.get("tools"))
    system = _words(body.get("system"))
    if system:
        conversation.brief.append(system)
        conversation.texts.append(system)
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        assistant = message.get("role") == "assistant"
        if assistant:
            conversation.turn += 1
            conversation.last_results = []
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict):
                _anthropic_block(conversation, block, assistant)
    return conversation


def _anthropic_block(conversation: Conversation, block: dict[str, Any], assistant: bool) -> None:
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        conversation.texts.append(block["text"])
        if not assistant:
            conversation.brief.append(block["text"])
    elif kind == "tool_use" and assistant:
        tool_input = block.get("input")
        arguments = tool_input if isinstance(tool_input, dict) else {}
        raw = json.dumps(tool_input, ensure_ascii=False)
        call = Call(str(block.get("id") or ""), str(block.get("name") or ""), arguments, raw)
        conversation.calls.append(call)
    elif kind == "tool_result" and not assistant:
        words = _words(block.get("content"))
        conversation.texts.append(words)
        result = Result(str(block.get("tool_use_id") or ""), words, bool(block.get("is_error")))
        _add_result(conversation, result)


def _openai_call(conversation: Conversation, raw_call: Any) -> None:
    if not isinstance(raw_call, dict):
        return
    function = _inner(raw_call, "function", {})
    raw = function.get("arguments")
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    arguments = parsed if isinstance(parsed, dict) else {}
    name = str(function.get("name") or "")
    conversation.calls.append(Call(str(raw_call.get("id") or ""), name, arguments, raw))


def _add_result(conversation: Conversation, result: Result) -> None:
    conversation.results[result.call_id] = result
    conversation.last_results.append(result)


def _words(content: Any) -> str:
    """A content string, or the text parts of a list of parts/blocks, joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _read_tools(conversation: Conversation, tools: Any) -> None:
    if not isinstance(tools, list) or not tools:
        return
    conversation.tools_json = json.dumps(tools, ensure_ascii=False, sort_keys=True)
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        spec = _inner(tool, "function", tool)
        name = spec.get("name")
        if not isinstance(name, str):
            continue
        schema = spec.get("parameters", spec.get("input_schema"))
        properties = schema.get("properties") if isinstance(schema, dict) else None
        conversation.tools[name] = ToolSpec(
            name,
            str(spec.get("description") or ""),
            frozenset(properties) if isinstance(properties, dict) else None,
        )


def forced_tool(body: dict[str, Any]) -> str | None:
    """The one tool the request forces (a structured answer asked for as a tool call)."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])  # OpenAI {"type": "function", "function": {"name"}}
        if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            return str(choice["name"])  # Anthropic {"type": "tool", "name"}
    return None


def tool_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            spec = _inner(tool, "function", tool)
            if isinstance(spec.get("name"), str):
                names.append(spec["name"])
    return names


def _inner(outer: dict[str, Any], key: str, default: dict[str, Any]) -> dict[str, Any]:
    value = outer.get(key)
    return value if isinstance(value, dict) else default
