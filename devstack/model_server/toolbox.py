"""The agent's tools carried out on a local directory, and a loop that talks to a model with them.

For tests and for checking scenarios and gold patches by hand: the worker's tool specs
(``domain.model.TOOL_SPECS``), carried out simply but as strictly as the worker does
(``str_replace`` needs exactly one occurrence of ``old_str``; an unknown argument is an
error). ``converse`` runs the conversation over either wire format until the model calls
``finish``, stops calling tools, is cut off at its output limit, or runs out of turns.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from domain.agent import ALL_TOOLS, ToolName
from domain.model import tool_specs

Wire = Literal["openai", "anthropic"]


def tool_definitions(wire: Wire, names: Sequence[ToolName] = ALL_TOOLS) -> list[dict[str, Any]]:
    """The worker's tool specs (``domain.model.TOOL_SPECS``) in the wire format's shape."""
    tools = []
    for spec in tool_specs(names):
        if wire == "openai":
            function = {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
            }
            tools.append({"type": "function", "function": function})
        else:
            tools.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "input_schema": spec.parameters,
                }
            )
    return tools


class Workbench:
    """The tools on the files under ``root``; every call returns (output, is_error)."""

    def __init__(self, root: Path, run_timeout: float = 120.0) -> None:
        self.root = root
        self.run_timeout = run_timeout

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return f"Error: unknown tool {name!r}", True
        try:
            return str(handler(**arguments)), False
        except (OSError, ValueError, TypeError) as err:
            return f"Error: {err}", True

    def _file(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"{path} is outside the repository")
        return target

    def _view(self, path: str, view_range: list[int] | None = None) -> str:
        lines = self._file(path).read_text().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        first, last = view_range if view_range else (1, len(lines))
        last = len(lines) if last == -1 else min(last, len(lines))
        if first < 1 or first > max(last, 1):
            raise ValueError(f"view_range {view_range} is outside {path} ({len(lines)} lines)")
        return "\n".join(f"{n:6}\t{lines[n - 1]}" for n in range(first, last + 1))

    def _create(self, path: str, content: str) -> str:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return f"Created {path}"

    def _str_replace(self, path: str, old_str: str, new_str: str = "") -> str:
        target = self._file(path)
        text = target.read_text()
        count = text.count(old_str) if old_str else 0
        if count != 1:
            raise ValueError(f"old_str occurs {count} times in {path}, not exactly once")
        target.write_text(text.replace(old_str, new_str))
        return f"Edited {path}"

    def _insert(self, path: str, insert_line: int, new_str: str) -> str:
        target = self._file(path)
        lines = target.read_text().split("\n")
        if not 0 <= insert_line <= len(lines):
            raise ValueError(f"insert_line {insert_line} is outside {path}")
        lines[insert_line:insert_line] = new_str.split("\n")
        target.write_text("\n".join(lines))
        return f"Inserted into {path}"

    def _search(self, pattern: str, path: str = "", max_results: int = 50) -> str:
        found = []
        base = self._file(path) if path else self.root
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for file in (f for f in files if ".git" not in f.relative_to(self.root).parts):
            try:
                text = file.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.split("\n"), 1):
                if re.search(pattern, line):
                    found.append(f"{file.relative_to(self.root)}:{number}: {line}")
        return "\n".join(found[:max_results]) or "no matches"

    def _run(self, command: str, timeout_seconds: int | None = None) -> str:
        done = subprocess.run(
            command,
            shell=True,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout_seconds or self.run_timeout,
            check=False,
        )
        return f"exit code {done.returncode}\n{(done.stdout + done.stderr)[-4000:]}"

    def _finish(self, summary: str = "", **_: Any) -> str:
        return "Finished."


@dataclass
class Turn:
    calls: list[tuple[str, dict[str, Any] | str]]  # (name, arguments; raw text when not JSON)
    results: list[tuple[str, bool]]
    stop: str  # finish_reason (OpenAI) or stop_reason (Anthropic)
    text: str = ""
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class Transcript:
    turns: list[Turn] = field(default_factory=list)
    finished: str | None = None  # the finish summary


def converse(
    url: str,
    brief: str,
    workbench: Workbench,
    *,
    wire: Wire = "openai",
    tools: Sequence[ToolName] | list[dict[str, Any]] = ALL_TOOLS,
    max_tokens: int = 4096,
    max_turns: int = 30,
    system: str = "",
) -> Transcript:
    """Talk to the model at ``url`` (``.../v1``) with the tools until it is done.

    ``tools``: tool names (the worker's specs), or tool definitions in the wire's shape as is.
    """
    definitions = [t for t in tools if isinstance(t, dict)]
    if not definitions:
        definitions = tool_definitions(wire, [t for t in tools if isinstance(t, str)])
    speaker: _OpenAI | _Anthropic
    if wire == "openai":
        speaker = _OpenAI(url, brief, definitions, system)
    else:
        speaker = _Anthropic(url, brief, definitions, system)
    transcript = Transcript()
    with httpx.Client(timeout=60) as http:
        for _ in range(max_turns):
            turn, ids = speaker.ask(http, max_tokens)
            transcript.turns.append(turn)
            if turn.stop in ("length", "max_tokens") or not turn.calls:
                break
            for (name, arguments), call_id in zip(turn.calls, ids, strict=True):
                parsed = arguments if isinstance(arguments, dict) else {}
                output, is_error = workbench.call(name, parsed)
                turn.results.append((output, is_error))
                speaker.result(call_id, output, is_error)
                if name == "finish" and not is_error:
                    transcript.finished = str(parsed.get("summary", ""))
            speaker.end_turn()
            if transcript.finished is not None:
                break
    return transcript


class _OpenAI:
    def __init__(self, url: str, brief: str, tools: list[dict[str, Any]], system: str) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": brief}]
        if system:
            self.messages.insert(0, {"role": "system", "content": system})
        self.tools = tools

    def ask(self, http: httpx.Client, max_tokens: int) -> tuple[Turn, list[str]]:
        body = {"model": "m", "messages": self.messages, "tools": self.tools}
        response = http.post(self.url, json={**body, "max_tokens": max_tokens})
        response.raise_for_status()
        data = response.json()
        message = data["choices"][0]["message"]
        self.messages.append(message)
        calls = [
            (c["function"]["name"], _loads(c["function"]["arguments"]))
            for c in message.get("tool_calls") or []
        ]
        ids = [c["id"] for c in message.get("tool_calls") or []]
        stop = data["choices"][0]["finish_reason"]
        return Turn(calls, [], stop, message.get("content") or "", data["usage"]), ids

    def result(self, call_id: str, output: str, is_error: bool) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": output})

    def end_turn(self) -> None:
        pass


class _Anthropic:
    def __init__(self, url: str, brief: str, tools: list[dict[str, Any]], system: str) -> None:
        self.system = system
        root = url.rstrip("/")
        self.url = root + ("/messages" if root.endswith("/v1") else "/v1/messages")
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": brief}]
        self.tools = tools
        self.pending: list[dict[str, Any]] = []

    def ask(self, http: httpx.Client, max_tokens: int) -> tuple[Turn, list[str]]:
        body = {"model": "m", "messages": self.messages, "tools": self.tools}
        if self.system:
            body["system"] = self.system
        headers = {"anthropic-version": "2023-06-01"}
        response = http.post(self.url, json={**body, "max_tokens": max_tokens}, headers=headers)
        response.raise_for_status()
        data = response.json()
        self.messages.append({"role": "assistant", "content": data["content"]})
        uses = [b for b in data["content"] if b["type"] == "tool_use"]
        text = "".join(b.get("text", "") for b in data["content"] if b["type"] == "text")
        calls: list[tuple[str, dict[str, Any] | str]] = [(b["name"], b["input"]) for b in uses]
        turn = Turn(calls, [], data["stop_reason"], text, data["usage"])
        return turn, [b["id"] for b in uses]

    def result(self, call_id: str, output: str, is_error: bool) -> None:
        block = {"type": "tool_result", "tool_use_id": call_id, "content": output}
        self.pending.append({**block, "is_error": is_error})

    def end_turn(self) -> None:
        self.messages.append({"role": "user", "content": self.pending})
        self.pending = []


def _loads(arguments: str) -> dict[str, Any] | str:
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments
