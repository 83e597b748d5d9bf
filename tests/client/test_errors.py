"""Error classification: which Gitea failures Temporal retries, and what the message says."""

from __future__ import annotations

import httpx
import pytest

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from domain import names
from domain.names import ERR_FORGE_CONFLICT, ERR_FORGE_UNAVAILABLE
from tests.client import payloads

TOKEN = "s3cr3t-token-0123456789abcdef"

CLASSIFICATION = [
    # status, error type, non_retryable
    (400, names.ERR_INVALID_REQUEST, True),
    (401, names.ERR_UNAUTHORIZED, True),
    (403, names.ERR_FORBIDDEN, True),
    (404, names.ERR_NOT_FOUND, True),
    (405, names.ERR_INVALID_REQUEST, True),
    (409, ERR_FORGE_CONFLICT, True),
    (412, names.ERR_INVALID_REQUEST, True),
    (422, names.ERR_INVALID_REQUEST, True),
    (423, names.ERR_REPO_ARCHIVED, True),
    (408, ERR_FORGE_UNAVAILABLE, False),
    (429, ERR_FORGE_UNAVAILABLE, False),
    (500, ERR_FORGE_UNAVAILABLE, False),
    (502, ERR_FORGE_UNAVAILABLE, False),
    (503, ERR_FORGE_UNAVAILABLE, False),
    (504, ERR_FORGE_UNAVAILABLE, False),
]


def client_answering(handler: httpx.MockTransport) -> GiteaClient:
    return GiteaClient("http://forge.test", TOKEN, transport=handler)


@pytest.mark.parametrize(("status", "error_type", "non_retryable"), CLASSIFICATION)
async def test_status_classification(status: int, error_type: str, non_retryable: bool) -> None:
    # Gitea echoing the token back must not leak it either.
    body = payloads.error(f"rejected token {TOKEN}")
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    async with client_answering(transport) as client:
        with pytest.raises(GiteaError) as caught:
            await client.get_issue("acme", "app", 3)
    error = caught.value
    assert error.type == error_type
    assert error.non_retryable is non_retryable
    assert error.status == status
    message = str(error)
    assert "GET /repos/acme/app/issues/3" in message
    assert "rejected token" in message
    assert TOKEN not in message
    assert TOKEN not in error.gitea_message


async def test_archived_repo_explains_what_to_do() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(423, json=payloads.error("repo is archived"))
    )
    async with client_answering(transport) as client:
        with pytest.raises(GiteaError) as caught:
            await client.create_comment("acme", "app", 3, "hi")
    assert caught.value.type == names.ERR_REPO_ARCHIVED
    assert "unarchive" in str(caught.value)


async def test_non_json_error_body_is_reported() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="Bad Gateway"))
    async with client_answering(transport) as client:
        with pytest.raises(GiteaError) as caught:
            await client.version()
    assert caught.value.non_retryable is False
    assert "Bad Gateway" in str(caught.value)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
async def test_transport_failures_are_retryable(exc: httpx.TransportError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    async with client_answering(httpx.MockTransport(fail)) as client:
        with pytest.raises(GiteaError) as caught:
            await client.get_repo("acme", "app")
    assert caught.value.type == ERR_FORGE_UNAVAILABLE
    assert caught.value.non_retryable is False
    assert caught.value.status is None
    assert "GET /repos/acme/app" in str(caught.value)


async def test_token_in_query_or_exception_text_is_scrubbed() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}?token={TOKEN}&access_token=xyz")

    async with client_answering(httpx.MockTransport(fail)) as client:
        with pytest.raises(GiteaError) as caught:
            await client.version()
    message = str(caught.value)
    assert TOKEN not in message
    assert "xyz" not in message
    assert "token=***" in message


async def test_requests_carry_token_header_and_accept_json() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "1.25.4"})

    async with client_answering(httpx.MockTransport(answer)) as client:
        assert await client.version() == "1.25.4"
    assert seen[0].headers["authorization"] == f"token {TOKEN}"
    assert seen[0].headers["accept"] == "application/json"
    assert str(seen[0].url) == "http://forge.test/api/v1/version"


async def test_unexpected_success_body_is_a_permanent_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"nope": 1}))
    async with client_answering(transport) as client:
        with pytest.raises(GiteaError) as caught:
            await client.get_issue("acme", "app", 3)
    assert caught.value.non_retryable is True
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://forge.test", "http://forge.test/api/v1/version"),
        ("http://forge.test/", "http://forge.test/api/v1/version"),
        ("https://host.test/gitea/", "https://host.test/gitea/api/v1/version"),
        ("http://forge.test/api/v1", "http://forge.test/api/v1/version"),
    ],
)
async def test_base_url_forms(base_url: str, expected: str) -> None:
    urls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={"version": "1.25.4"})

    async with GiteaClient(base_url, TOKEN, transport=httpx.MockTransport(answer)) as client:
        await client.version()
    assert urls == [expected]


@pytest.mark.parametrize(
    "base_url", ["forge.test", "ftp://forge.test", f"http://user:{TOKEN}@forge.test", ""]
)
def test_bad_base_url_is_a_clear_error(base_url: str) -> None:
    with pytest.raises(ValueError, match="forge URL") as caught:
        GiteaClient(base_url, TOKEN)
    assert TOKEN not in str(caught.value)


def test_missing_token_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="token is required"):
        GiteaClient("http://forge.test", "")


def test_bad_base_url_never_echoes_credentials() -> None:
    with pytest.raises(ValueError) as caught:
        GiteaClient(f"ftp://user:{TOKEN}@forge.test", TOKEN)
    assert TOKEN not in str(caught.value)
