"""docker-compose.temporal.yml and the Dockerfile, checked without Docker: the file parses, its
images are the server version the suite runs against, its scripts are valid shell, its
search-attribute registration runs verbatim with the real ``temporal`` CLI against the dev server
(registers every attribute, again without harm, and fails loudly on a conflict), and the
Dockerfile installs Autopilot the way the README says."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from devstack.temporal_server import temporal_cli
from domain.names import SA_REPO, SEARCH_ATTRIBUTES
from tests.dev_server import running_dev_server

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.temporal.yml"
REGISTER_SERVICE = "temporal-register"


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def shell_services() -> dict[str, dict[str, Any]]:
    """The one-shot jobs whose command is a shell script (entrypoint /bin/sh -c)."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("entrypoint") == ["/bin/sh", "-c"]
    }


def script_of(service: dict[str, Any]) -> str:
    """The script as the container's shell receives it: compose turns ``$$`` into ``$``."""
    (raw,) = service["command"]
    # A lone `$` would be compose interpolation from the host's environment, not the script's.
    assert re.search(r"(?<!\$)\$(?!\$)", raw.replace("$$", "")) is None
    return str(raw.replace("$$", "$"))


def registration_script() -> tuple[str, dict[str, str]]:
    """The registration job's script and environment, exactly as compose gives them."""
    service = compose()["services"][REGISTER_SERVICE]
    return script_of(service), {k: str(v) for k, v in service["environment"].items()}


def suite_versions() -> dict[str, str]:
    """{"Server": "1.32.0", "UI": "2.54.1"} of the ``temporal`` CLI the suite runs."""
    out = subprocess.run(
        [temporal_cli(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(Server|UI) (\d+\.\d+\.\d+)", out))


def test_images_are_the_tested_server_version() -> None:
    versions = suite_versions()
    images = {name: s["image"] for name, s in compose()["services"].items() if "image" in s}
    assert images["temporal"] == f"temporalio/server:{versions['Server']}"
    assert images["temporal-ui"] == f"temporalio/ui:{versions['UI']}"
    for name, image in images.items():
        assert "auto-setup" not in image, name  # deprecated
        if image.startswith("temporalio/admin-tools:"):
            assert image.endswith(f":{versions['Server']}"), name
    assert set(shell_services()) == {"temporal-schema", REGISTER_SERVICE}


@pytest.mark.parametrize("service", ["temporal-schema", REGISTER_SERVICE])
def test_scripts_are_valid_shell_that_stops_at_the_first_error(service: str) -> None:
    script = script_of(shell_services()[service])
    assert script.startswith("set -eu\n")
    subprocess.run(["/bin/sh", "-n", "-c", script], check=True)


@asynccontextmanager
async def dev_server(search_attributes: Sequence[SearchAttributeKey[Any]]) -> AsyncIterator[str]:
    async with running_dev_server(search_attributes) as env:
        yield env.client.service_client.config.target_host


def register(address: str) -> subprocess.CompletedProcess[str]:
    script, env = registration_script()
    env |= {
        "PATH": f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": address,
    }
    return subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


async def registered(address: str, namespace: str) -> dict[str, int]:
    client = await Client.connect(address, namespace=namespace)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(listed.custom_attributes)


async def test_registration_registers_every_attribute_and_can_run_again() -> None:
    async with dev_server(()) as address:
        first = register(address)
        assert first.returncode == 0, first.stdout + first.stderr
        again = register(address)
        assert again.returncode == 0, again.stdout + again.stderr
        custom = await registered(address, registration_script()[1]["NAMESPACE"])
    expected = {key.name: key.indexed_value_type for key in SEARCH_ATTRIBUTES}
    assert {name: custom.get(name) for name in expected} == {
        name: IndexedValueType.ValueType(kind) for name, kind in expected.items()
    }


async def test_registration_fails_loudly_on_a_conflicting_attribute() -> None:
    async with dev_server([SearchAttributeKey.for_int(SA_REPO.name)]) as address:
        result = register(address)
    assert result.returncode != 0
    assert f"{SA_REPO.name} already exists and has different type" in result.stdout


def test_the_dockerfile_installs_as_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    steps = [
        step.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN ")
        for step in line.removeprefix("RUN ").split("&&")
        if " install " in step
    ]
    assert len(steps) == 2, steps  # the host packages and Autopilot itself
    for step in steps:
        assert step in readme, step
