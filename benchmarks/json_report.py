"""How the benchmarks that start a Temporal dev server print their JSON report and exit."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn, TextIO


def json_stdout() -> TextIO:
    """A stream to the real stdout, for the report alone: from now on fd 1 goes to stderr,
    since the dev server inherits fd 1 and prints its banner there."""
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return json_out


def write_report(json_out: TextIO, report: dict[str, Any]) -> str:
    text = json.dumps(report, indent=2)
    json_out.write(text + "\n")
    json_out.flush()
    return text


def exit_now(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # temporalio's Rust bridge may abort during a normal interpreter exit
