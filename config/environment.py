"""Configuration of where repository code runs: the ``sandbox`` section and ``setup_command``.

Kept apart from ``config/settings.py`` (which uses both) so that file stays about the files.
"""

from __future__ import annotations

import shlex
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, field_validator

from domain.sandbox import SandboxSettings


class SandboxConfig(SandboxSettings):
    """``domain.sandbox.SandboxSettings``, but unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("setup_env_vars")
    @classmethod
    def _not_ours(cls, names: list[str]) -> list[str]:
        for name in names:
            if name.upper().startswith("AUTOPILOT"):
                raise ValueError(f"{name}: Autopilot's own variables never reach repository code")
        return names


def _command_list(value: object) -> object:
    if isinstance(value, str):
        raise ValueError("must be a list of commands (one per line: - command)")
    return value


def _parsable(commands: list[str] | None) -> list[str] | None:
    for index, command in enumerate(commands or []):
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise ValueError(f"[{index}] cannot be parsed as a command: {e}") from None
        if not argv:
            raise ValueError(f"[{index}] is empty")
    return commands


# A repository's ``setup_command``: a list of command lines, each split like a shell would.
SetupCommands = Annotated[
    list[str] | None, BeforeValidator(_command_list), AfterValidator(_parsable)
]
