"""The wheel adds one import package, ``autopilot``, to site-packages, and everything still
imports by its own name (``workflows.issue``, ``config.settings``) once ``autopilot`` has run.

Builds the wheel from a copy of the repository (setuptools from the package index, so it is
marked slow), installs it without dependencies into a fresh virtualenv that borrows this
environment's dependencies, and runs the ``autopilot`` command from outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.deploy.test_compose import ROOT

pytestmark = pytest.mark.slow

APP_FOLDERS = ("activities", "config", "devstack", "domain", "starters", "workers", "workflows")
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".autopilot", "build", "*.egg-info", "__pycache__", ".*_cache", "tests"
)


def run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    """(wheel, venv, site-packages entries before the install)."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", source, cwd=tmp
    )
    (wheel,) = (tmp / "dist").glob("autopilot-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    site = Path(
        run(
            venv / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=tmp,
        ).strip()
    )
    # The dependencies (temporalio, pydantic, ...) come from this environment, read-only.
    (site / "_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    before = {entry.name for entry in site.iterdir()}
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        wheel,
        cwd=tmp,
    )
    return wheel, venv, before


def site_packages(venv: Path) -> Path:
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    return site


def test_the_wheel_holds_one_top_level_package(installed: tuple[Path, Path, set[str]]) -> None:
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith((".dist-info", ".data"))} == {"autopilot"}
    for folder in APP_FOLDERS:
        assert f"autopilot/{folder}/__init__.py" in names, folder
    assert "autopilot/config/autopilot.yaml" in names  # the shipped defaults


def test_site_packages_gains_only_the_namespace(installed: tuple[Path, Path, set[str]]) -> None:
    _, venv, before = installed
    added = {entry.name for entry in site_packages(venv).iterdir()} - before
    assert {name for name in added if not name.endswith(".dist-info")} == {"autopilot"}
    assert not (site_packages(venv) / "config").exists()


def test_the_command_runs_outside_the_repository(
    installed: tuple[Path, Path, set[str]], tmp_path: Path
) -> None:
    _, venv, _ = installed
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)

    helped = call("autopilot", "--help")
    assert helped.returncode == 0 and "status" in helped.stdout, helped.stderr
    # The worker's whole import graph (every workflow and activity) loads from the wheel.
    worker = call("autopilot", "worker", "--help")
    assert worker.returncode == 0 and "--health-port" in worker.stdout, worker.stderr
    where = call(
        "python",
        "-c",
        "import autopilot, workflows.issue, config.settings as s; "
        "print(workflows.issue.__file__); print(s.DEFAULT_CONFIG_PATH)",
    )
    assert where.returncode == 0, where.stderr
    package = site_packages(venv) / "autopilot"
    for line in where.stdout.splitlines():
        assert Path(line).is_relative_to(package), line
    # Without `autopilot` first, the generic names are not importable at all.
    bare = call("python", "-c", "import config")
    assert bare.returncode != 0 and "No module named 'config'" in bare.stderr
