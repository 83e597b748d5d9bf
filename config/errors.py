"""The one error every configuration mistake becomes."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration mistake; ``str()`` is one line: ``<file>: <dotted.key>: <reason>``."""

    def __init__(self, source: str | Path, key: str, reason: str) -> None:
        self.source = str(source)
        self.key = key
        self.reason = " ".join(reason.split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.reason}"
        return f"{self.source}: {self.reason}"
