"""The model's tool arguments, checked: every mistake becomes a :class:`ToolError` it can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.model import RAW_ARGUMENTS_KEY

# What each tool takes: required, then optional. The specs offered to the model live in
# domain.model.TOOL_SPECS; this is what the tool layer accepts (``offset`` pages a search).
ARGUMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "view": (("path",), ("view_range",)),
    "create": (("path", "content"), ()),
    "str_replace": (("path", "old_str"), ("new_str",)),
    "insert": (("path", "insert_line", "new_str"), ()),
    "search": (("pattern",), ("path", "max_results", "offset")),
    "run": (("command",), ("timeout_seconds",)),
    "finish": ((), ("summary",)),
}


class ToolError(Exception):
    """A call the tool refuses; the message is what the model sees."""


def check_arguments(tool: str, args: Mapping[str, Any]) -> None:
    """Unparsed, missing and unknown arguments, named with what the tool expects."""
    if RAW_ARGUMENTS_KEY in args:
        raw = str(args[RAW_ARGUMENTS_KEY])[:200]
        raise ToolError(f"the arguments of {tool} were not a JSON object: {raw!r}")
    required, optional = ARGUMENTS[tool]
    expected = ", ".join([*required, *(f"{o} (optional)" for o in optional)]) or "none"
    missing = [name for name in required if name not in args]
    unknown = sorted(set(args) - set(required) - set(optional))
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        raise ToolError(f"{tool}: {'; '.join(problems)}; it takes: {expected}")


def text(args: Mapping[str, Any], name: str, *, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string, not {_kind(value)}")
    return value


def integer(
    args: Mapping[str, Any], name: str, *, default: int | None = None, minimum: int | None = None
) -> int:
    value = args.get(name, default)
    # JSON numbers may arrive as 3.0, and some models quote them.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ToolError(f"{name} must be an integer, not {_kind(value)}")
    if minimum is not None and value < minimum:
        raise ToolError(f"{name} must be at least {minimum}, not {value}")
    return value


def line_range(args: Mapping[str, Any]) -> tuple[int, int] | None:
    """``view_range`` as (start, end) with end -1 for the end of the file; None when absent."""
    value = args.get("view_range")
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ToolError(f"view_range must be [start, end], not {value!r:.100}")
    start = integer({"start": value[0]}, "start")
    end = integer({"end": value[1]}, "end")
    if start < 1:
        raise ToolError(f"view_range {list(value)}: lines are numbered from 1")
    if end != -1 and end < start:
        raise ToolError(f"view_range {list(value)}: end must be >= start, or -1 for the end")
    return start, end


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r:.60}"
