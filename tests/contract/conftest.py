"""Fixtures for contract tests: one forge per module and a client that validates every answer.

Every response validated here is also recorded in ``VALIDATED`` for ``test_coverage.py``, which
checks that the contract suite exercises every endpoint the Gitea client calls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.forge.testing import RunningForge, running_forge
from tests.contract import spec

JSON_TYPE = "application/json;charset=utf-8"
_ADMIN = object()
# When set, the session writes what it validated to this file (test_coverage's fallback run).
RECORD_ENV = "AUTOPILOT_CONTRACT_RECORD"
COVERAGE_MODULE = "test_coverage.py"

# (METHOD, spec path template, status) of every response validated in this session.
VALIDATED: set[tuple[str, str, int]] = set()


def validate_and_record(method: str, template: str, status: int, body: object) -> None:
    """``spec.validate_response``, remembering the operation once it passed."""
    spec.validate_response(method, template, status, body)
    VALIDATED.add((method.upper(), template, status))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The coverage check reads what the contract tests recorded, so it runs after all of them
    # (stable sort: everything else keeps its order). When they did not all run in this
    # session (-k, a single file), the check runs the contract suite itself.
    items.sort(key=lambda item: item.path.name == COVERAGE_MODULE)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(RECORD_ENV)
    if target:
        Path(target).write_text(json.dumps(sorted(VALIDATED)), encoding="utf-8")


class CheckedApi:
    """An httpx client for the forge API; every response is validated against the spec."""

    def __init__(self, forge: RunningForge) -> None:
        self.forge = forge
        self.http = httpx.Client(base_url=forge.api_url, timeout=30)
        self.seen: set[tuple[str, str, int]] = set()

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: Any = _ADMIN,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if token is _ADMIN:
            token = self.forge.token
        if token and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"token {token}"
        resp = self.http.request(
            method,
            path,
            json=body if content is None else None,
            content=content,
            headers=hdrs,
            params=params,
        )
        parsed = parse(resp)
        template = spec.match_path(method, f"/api/v1{path}")
        validate_and_record(method, template, resp.status_code, parsed)
        self.seen.add((method.upper(), template, resp.status_code))
        return resp

    def expect(self, status: int, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        resp = self.call(method, path, body, **kw)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text[:300]}"
        return parse(resp)


def parse(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    assert resp.headers.get("content-type") == JSON_TYPE, resp.headers.get("content-type")
    return json.loads(resp.content)


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(Path(tmp_path_factory.mktemp("forge"))) as running:
        yield running


@pytest.fixture(scope="module")
def api(forge: RunningForge) -> Iterator[CheckedApi]:
    client = CheckedApi(forge)
    yield client
    client.close()
