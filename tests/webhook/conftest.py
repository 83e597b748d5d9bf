"""A configuration with one repository, for the receiver's unit tests."""

from __future__ import annotations

import pytest

from config.settings import AutopilotConfig, RepositoryConfig
from tests.webhook.payloads import REPO


@pytest.fixture
def config() -> AutopilotConfig:
    return AutopilotConfig(
        repositories=[
            RepositoryConfig(name="app", repo=REPO),
            RepositoryConfig(name="off", repo="acme/manual", automation=False),
        ]
    )
