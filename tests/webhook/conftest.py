"""A configuration for the receiver's unit tests: repositories and one cross-repo workflow."""

from __future__ import annotations

import pytest

from config.settings import AutopilotConfig, CrossRepoWorkflowConfig, RepositoryConfig
from tests.webhook.payloads import CROSS_REPO, REPO


@pytest.fixture
def config() -> AutopilotConfig:
    return AutopilotConfig(
        repositories=[
            RepositoryConfig(name="app", repo=REPO),
            RepositoryConfig(name="lib", repo="acme/lib"),
            RepositoryConfig(name="off", repo="acme/manual", automation=False),
        ],
        cross_repo_workflows={
            CROSS_REPO: CrossRepoWorkflowConfig(repositories=["lib", "app"]),
        },
    )
