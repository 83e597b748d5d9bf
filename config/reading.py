"""Reading a YAML file and validating it, with every mistake as a one-line ConfigError."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from config.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "cannot read file: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, where, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "the top level must be a mapping of keys")
    # A section left empty (every key commented out) means "all defaults".
    return {key: value for key, value in data.items() if value is not None}


def _dotted(loc: Sequence[int | str]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


SECRET_KEY = re.compile(r"(^|_)(token|api_?key|password|secret)$")
SECRET_ENV_KEYS = {
    "forge": "forge.token_env",
    "model": "model.api_key_env",
    "temporal": "temporal.api_key_env",
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    last = str(error["loc"][-1]).lower() if error["loc"] else ""
    if kind == "extra_forbidden" and SECRET_KEY.search(last):
        env_key = SECRET_ENV_KEYS.get(str(error["loc"][0]), "a *_env key")
        return f"secrets do not belong in config files; put it in the variable named by {env_key}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "must be a mapping of keys"
    return str(error["msg"]).removeprefix("Value error, ")


_M = TypeVar("_M", bound=BaseModel)


def validate(
    model: type[_M], data: dict[str, Any], path: Path, overrides: Mapping[str, str] | None = None
) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # include_input=False: a bad value may be a pasted secret; never echo it.
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]
        key = _dotted(first["loc"])
        reason = _reason(first)
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        source: str | Path = path
        for dotted, variable in (overrides or {}).items():
            if key == dotted:
                source = f"environment variable {variable}"
        raise ConfigError(source, key, reason) from None
