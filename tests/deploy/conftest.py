"""The deploy suite's Temporal: the real dev server, reached in TLS mode through a proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.deploy.tls import Certificates, make_certificates, tls_proxy
from tests.dev_server import running_dev_server


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


@pytest.fixture(scope="session")
def plain_address(temporal: WorkflowEnvironment) -> str:
    return temporal.client.service_client.config.target_host


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
async def mtls_address(plain_address: str, certs: Certificates) -> AsyncIterator[str]:
    """The dev server behind TLS that requires a client certificate signed by the CA."""
    async with tls_proxy(plain_address, certs, mtls=True) as address:
        yield address


@pytest.fixture(scope="session")
async def tls_address(plain_address: str, certs: Certificates) -> AsyncIterator[str]:
    """The dev server behind server-only TLS (the API-key setup of a hosted service)."""
    async with tls_proxy(plain_address, certs, mtls=False) as address:
        yield address


def write_config(tmp_path: Path, temporal: str) -> Path:
    """An autopilot.yaml whose temporal section is ``temporal`` (YAML text, indented)."""
    path = tmp_path / "autopilot.yaml"
    path.write_text(f"temporal:\n{temporal}" if temporal else "")
    return path
