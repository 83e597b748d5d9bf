"""prepare_environment and the tests' use of it, on real git in the real sandbox.

Setup commands here are shell one-liners (fast, offline); ``test_default_python_environment``
builds a real virtualenv with pip and is marked slow.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.sandbox import Sandbox
from activities.workspace import WorkspaceActivities
from activities.workspace.environment import MARKER, Environments
from domain import names
from domain.change import EditSet, FileEdit
from domain.sandbox import SandboxSettings
from domain.workspace import (
    ApplyEditsInput,
    EnvironmentSpec,
    PrepareEnvironmentInput,
    PrepareWorkspaceInput,
    RunTestsInput,
    WorkspaceRef,
)
from tests.workspace.conftest import MAX_EDIT_BYTES, Origin, git, make_origin

# Puts a tool into the environment's bin/, which tests then find first on their PATH.
_TOOL_SCRIPT = (
    "mkdir -p /autopilot/env/bin && "
    'printf "#!/bin/sh\\necho tool-ok\\n" > /autopilot/env/bin/envtool && '
    "chmod +x /autopilot/env/bin/envtool"
)
TOOL = f"sh -c '{_TOOL_SCRIPT}'"
SLOW_TOOL = f"sh -c 'sleep 1 && {_TOOL_SCRIPT}'"


@pytest.fixture
def eacts(root: Path, tmp_path: Path) -> WorkspaceActivities:
    """Activities with a cache of their own: these tests count builds."""
    return WorkspaceActivities(
        root, lambda _: None, MAX_EDIT_BYTES, environments_root=tmp_path / "environments"
    )


def prepare(ws: WorkspaceRef, *commands: str, timeout: int = 60) -> PrepareEnvironmentInput:
    return PrepareEnvironmentInput(
        workspace=ws, setup_commands=list(commands), timeout_seconds=timeout
    )


def other_run(ws: WorkspaceRef, n: int) -> WorkspaceRef:
    return ws.model_copy(update={"branch": f"autopilot/issue-{n}", "key": f"{ws.key}-{n}"})


async def test_built_once_reused_and_used_by_the_tests(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef, root: Path
) -> None:
    first = await env.run(eacts.prepare_environment, prepare(ws, TOOL))
    ref = first.environment
    assert ref is not None and ref.built and ref.commands == [TOOL] and ref.path
    assert not Path(ref.path).is_relative_to(root)  # outside every checkout
    again = await env.run(eacts.prepare_environment, prepare(other_run(ws, 8), TOOL))
    assert again.environment is not None and not again.environment.built
    assert again.environment.key == ref.key

    run = await env.run(
        eacts.run_tests, RunTestsInput(workspace=ws, command="envtool", environment=ref)
    )
    assert run.passed and "tool-ok" in run.output_tail
    checkout = next(p for p in root.iterdir() if (p / ".git").is_dir())
    assert git(checkout, "status", "--porcelain", "--ignored") == ""  # never part of a diff


async def test_changed_dependency_files_build_a_new_environment(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    before = (await env.run(eacts.prepare_environment, prepare(ws, TOOL))).environment
    edits = EditSet(
        summary="deps",
        commit_message="Add requirements",
        edits=[FileEdit(path="requirements.txt", content="attrs\n")],
    )
    await env.run(eacts.apply_edits, ApplyEditsInput(workspace=ws, edits=edits, change_id="c1"))
    after = (await env.run(eacts.prepare_environment, prepare(ws, TOOL))).environment
    assert before and after and after.built and after.key != before.key
    assert Path(before.path or "").is_dir()  # other runs may still use the old one

    # A ref made before the change (or on another worker) is rebuilt by the test run itself.
    run = await env.run(
        eacts.run_tests, RunTestsInput(workspace=ws, command="envtool", environment=before)
    )
    assert run.passed and "tool-ok" in run.output_tail


async def test_environments_unused_for_two_weeks_are_removed(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    old = (await env.run(eacts.prepare_environment, prepare(ws, TOOL))).environment
    recent = (await env.run(eacts.prepare_environment, prepare(ws, f"{TOOL} #2"))).environment
    assert old and old.path and recent and recent.path
    long_ago = time.time() - 15 * 86_400
    for path in (old.path, recent.path):
        os.utime(Path(path) / MARKER, (long_ago, long_ago))
    os.utime(Path(recent.path) / MARKER)  # used since
    new = (await env.run(eacts.prepare_environment, prepare(ws, f"{TOOL} #3"))).environment
    assert new and new.built
    assert not Path(old.path).exists() and Path(recent.path).is_dir()


async def test_a_failing_setup_is_a_result_and_leaves_nothing(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    failing = "sh -c 'echo resolving; echo no matching distribution >&2; exit 4'"
    result = await env.run(eacts.prepare_environment, prepare(ws, TOOL, failing))
    failure = result.failure
    assert result.environment is None and failure is not None
    assert failure.command == failing and failure.exit_code == 4 and not failure.timed_out
    assert "resolving\nno matching distribution" in failure.output_tail
    assert f"`{failing}` exited with 4" in failure.describe()
    cache = tmp_path / "environments"
    assert [p for p in cache.glob("*/*") if p.is_dir()] == []  # no environment, no half one


async def test_a_setup_that_fails_inside_run_tests_is_a_failed_run(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    ref = (await env.run(eacts.prepare_environment, prepare(ws))).environment
    assert ref is not None and ref.path is None and ref.commands == []  # nothing to build
    broken = ref.model_copy(update={"setup_commands": ["false"], "key": "elsewhere"})
    run = await env.run(
        eacts.run_tests, RunTestsInput(workspace=ws, command="true", environment=broken)
    )
    assert not run.passed and run.exit_code == 1
    assert "could not be built" in run.output_tail and "`false` exited with 1" in run.output_tail


async def test_setup_has_its_own_timeout(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    result = await env.run(eacts.prepare_environment, prepare(ws, "sleep 30", timeout=1))
    assert result.failure is not None and result.failure.timed_out
    assert result.failure.exit_code is None and result.failure.seconds < 10


async def test_concurrent_tasks_build_one_environment(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    results = await asyncio.gather(
        *(
            env.run(eacts.prepare_environment, prepare(other_run(ws, n), SLOW_TOOL))
            for n in (1, 2, 3)
        )
    )
    refs = [r.environment for r in results]
    assert all(refs) and len({r.key for r in refs if r}) == 1
    assert sorted(r.built for r in refs if r) == [False, False, True]


async def test_a_crashed_build_never_looks_ready(
    ws: WorkspaceRef, env: ActivityEnvironment, eacts: WorkspaceActivities, tmp_path: Path
) -> None:
    ref = (await env.run(eacts.prepare_environment, prepare(ws, TOOL))).environment
    assert ref is not None and ref.path
    final = Path(ref.path)
    (final / MARKER).unlink()  # as if a build died between its last command and the rename
    stale = final.with_name(f".build-{final.name}-dead")
    stale.mkdir()
    again = (await env.run(eacts.prepare_environment, prepare(ws, TOOL))).environment
    assert again is not None and again.built and again.key == ref.key
    assert (final / MARKER).is_file() and not stale.exists()


async def test_unusable_setup_commands_and_no_sandbox_are_refused(
    env: ActivityEnvironment, eacts: WorkspaceActivities, ws: WorkspaceRef, tmp_path: Path
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await env.run(eacts.prepare_environment, prepare(ws, "pip 'unclosed"))
    assert caught.value.type == names.ERR_INVALID_REQUEST and caught.value.non_retryable
    nowhere = Sandbox(SandboxSettings(), bwrap=str(tmp_path / "missing-bwrap"))
    with pytest.raises(ApplicationError) as refused:
        await Environments(tmp_path / "e", nowhere).ensure(
            tmp_path, ws.repo, EnvironmentSpec(setup_commands=[TOOL]), lambda: None
        )
    assert refused.value.type == names.ERR_SANDBOX_UNAVAILABLE


async def test_checkouts_carry_tags(
    env: ActivityEnvironment,
    eacts: WorkspaceActivities,
    ws: WorkspaceRef,
    root: Path,
    origin: Origin,
) -> None:
    git(origin.bare, "tag", "v2.0.0", "main")
    await env.run(eacts.prepare, PrepareWorkspaceInput(workspace=ws))
    checkout = next(p for p in root.iterdir() if (p / ".git").is_dir())
    assert git(checkout, "describe", "--tags").strip() == "v2.0.0"


PYPROJECT = """\
[build-system]
requires = ["setuptools>=64", "setuptools_scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "scm-demo"
dynamic = ["version"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.setuptools_scm]
"""
VERSION = "import importlib.metadata as m; print('version', m.version('scm-demo'))"
LEAKS = (  # Autopilot's own packages and pytest plugins, if the tests could see them
    "import importlib.util as u; "
    "print([m for m in ('temporalio', 'pytest_asyncio', 'structlog') if u.find_spec(m)])"
)


@pytest.mark.slow
async def test_default_python_environment(
    env: ActivityEnvironment, root: Path, tmp_path: Path, ws: WorkspaceRef, environments_root: Path
) -> None:
    """The detected default: a venv, the project installed editable with its test extra, its
    version from the checkout's tag, and none of Autopilot's own packages or plugins."""
    origin = make_origin(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "scm_demo/__init__.py": "def double(x):\n    return 2 * x\n",
            "tests/test_double.py": "from scm_demo import double\n\n\ndef test_double():\n"
            "    assert double(2) == 4\n",
        },
        tag="v1.2.3",
    )
    ws = ws.model_copy(update={"clone_url": origin.url})
    acts = WorkspaceActivities(root, lambda _: None, environments_root=environments_root)
    result = await env.run(acts.prepare_environment, PrepareEnvironmentInput(workspace=ws))
    ref = result.environment
    assert ref is not None, result.failure and result.failure.describe()
    assert ref.commands == [
        "python3 -m venv /autopilot/env",
        "python -m pip install -e '.[test]'",
    ]

    async def run(command: str) -> str:
        done = await env.run(
            acts.run_tests, RunTestsInput(workspace=ws, command=command, environment=ref)
        )
        assert done.passed, done.output_tail
        return done.output_tail

    assert "1 passed" in await run("python -m pytest -q -p no:cacheprovider")
    assert "version 1.2.3" in await run(f'python -c "{VERSION}"')
    assert "[]" in await run(f'python -c "{LEAKS}"')
    reused = await env.run(
        acts.prepare_environment, PrepareEnvironmentInput(workspace=other_run(ws, 9))
    )
    assert reused.environment is not None and not reused.environment.built
