"""Forge credentials travel only as an HTTP header, and never show up in errors or on disk."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.git import Git, GitError, auth_header
from activities.workspace.paths import checkout_dir_name
from domain import names
from domain.workspace import PrepareWorkspaceInput, WorkspaceRef

TOKEN = "tok-s3cret-value"


class _Forge(BaseHTTPRequestHandler):
    """Records the Authorization header of each request and turns everyone away."""

    seen: list[str | None]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="forge"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def forge() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    handler = type("Handler", (_Forge,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _acts(root: Path, asked: list[str]) -> WorkspaceActivities:
    def token_for(base: str) -> str | None:
        asked.append(base)
        return TOKEN

    return WorkspaceActivities(root, token_for=token_for)


async def test_token_is_sent_as_basic_auth_header_and_scrubbed(
    env: ActivityEnvironment, ws: WorkspaceRef, root: Path, forge: tuple[str, list[str | None]]
) -> None:
    base, seen = forge
    asked: list[str] = []
    http_ws = ws.model_copy(update={"clone_url": f"{base}/acme/demo.git"})
    with pytest.raises(ApplicationError) as caught:
        await env.run(_acts(root, asked).prepare, PrepareWorkspaceInput(workspace=http_ws))
    assert caught.value.type == names.ERR_UNAUTHORIZED and caught.value.non_retryable
    encoded = base64.b64encode(f"autopilot:{TOKEN}".encode()).decode()
    assert seen and seen[0] == f"Basic {encoded}"
    assert asked == [base]
    for leak in (TOKEN, encoded):
        assert leak not in str(caught.value)
    config = (root / checkout_dir_name(ws.key) / ".git" / "config").read_text()
    assert f"{base}/acme/demo.git" in config and TOKEN not in config and encoded not in config


async def test_network_failure_is_retryable_and_scrubbed(
    env: ActivityEnvironment, ws: WorkspaceRef, root: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    http_ws = ws.model_copy(update={"clone_url": f"http://127.0.0.1:{port}/acme/demo.git"})
    with pytest.raises(GitError) as caught:
        await env.run(_acts(root, []).prepare, PrepareWorkspaceInput(workspace=http_ws))
    assert "ls-remote" in str(caught.value) and TOKEN not in str(caught.value)


async def test_file_urls_never_ask_for_a_token(
    env: ActivityEnvironment, ws: WorkspaceRef, root: Path
) -> None:
    asked: list[str] = []
    await env.run(_acts(root, asked).prepare, PrepareWorkspaceInput(workspace=ws))
    assert asked == []


def test_scrub_removes_token_header_and_url_credentials() -> None:
    text = f"failed {TOKEN} with {auth_header(TOKEN)} at https://user:pw@forge.invalid/x.git"
    scrubbed = Git(token=TOKEN).scrub(text)
    assert TOKEN not in scrubbed and "Basic " not in scrubbed and "user:pw" not in scrubbed
    assert "forge.invalid/x.git" in scrubbed
