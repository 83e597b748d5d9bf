"""One running forge per test module (a real subprocess on a free loopback port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.forge.testing import RunningForge, running_forge


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(Path(tmp_path_factory.mktemp("forge"))) as running:
        yield running
