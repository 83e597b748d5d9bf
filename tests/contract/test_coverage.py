"""Every endpoint the Gitea client calls is checked by the forge contract suite.

``conftest.py`` records each (method, template, status) whose response passed the spec check and
sorts this module last, so in a full run the record is complete when this test reads it. When
the contract tests did not all run in this session (``-k``, this file alone, a subset), the
record may be short: the test then runs the contract suite in a child pytest and checks its
record instead, so the answer never depends on what was selected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from activities.forge.operations import CLIENT_OPERATIONS
from tests.contract.conftest import RECORD_ENV, VALIDATED

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_SUITE = "tests/contract/test_forge_contract.py"
SUITE_TIMEOUT = 240

Operation = tuple[str, str]


def unchecked(
    client: Iterable[Operation], validated: Iterable[tuple[str, str, int]]
) -> set[Operation]:
    """Client operations without one successful (2xx) response validated against the spec."""
    succeeded = {(method, template) for method, template, status in validated if status < 300}
    return set(client) - succeeded


def run_contract_suite(record: Path) -> set[tuple[str, str, int]]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", CONTRACT_SUITE],
        cwd=ROOT,
        env={**os.environ, RECORD_ENV: str(record)},
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
    )
    assert proc.returncode == 0, f"the contract suite failed:\n{proc.stdout[-3000:]}"
    return {(m, t, int(s)) for m, t, s in json.loads(record.read_text(encoding="utf-8"))}


def test_the_check_catches_an_endpoint_the_suite_never_validated() -> None:
    validated = {("GET", "/version", 200), ("GET", "/user", 401)}
    client = {("GET", "/version"), ("GET", "/user"), ("DELETE", "/repos/{owner}/{repo}")}
    # An error answer alone does not check the success shape the client parses.
    assert unchecked(client, validated) == {("GET", "/user"), ("DELETE", "/repos/{owner}/{repo}")}


def test_contract_suite_validates_every_client_operation(tmp_path: Path) -> None:
    missing = unchecked(CLIENT_OPERATIONS, VALIDATED)
    if missing:
        missing = unchecked(CLIENT_OPERATIONS, run_contract_suite(tmp_path / "validated.json"))
    assert not missing, "the forge contract suite never validates a successful answer of: " + (
        ", ".join(f"{method} {template}" for method, template in sorted(missing))
    )
