"""The detected default setup, dependency files and the environment key: pure, no sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.workspace.environment import dependency_files, environment_key
from activities.workspace.python_setup import default_setup_commands
from domain.issue import RepoRef
from domain.workspace import (
    PrepareEnvironmentResult,
    SetupFailure,
    is_environment_file,
    touches_environment,
)

VENV = "python3 -m venv /autopilot/env"
REPO = RepoRef(forge_url="http://forge.invalid", owner="acme", name="demo")


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_environment_files_are_matched_at_the_root_only() -> None:
    for path in ("pyproject.toml", "requirements.txt", "requirements-dev.txt",
                 "test-requirements.txt", "requirements/test.txt", "poetry.lock",
                 "package-lock.json", "go.sum"):  # fmt: skip
        assert is_environment_file(path), path
    for path in ("docs/requirements.txt", "src/pyproject.toml", "requirements/sub/x.txt",
                 "README.md", "setup.py.orig"):  # fmt: skip
        assert not is_environment_file(path), path
    assert touches_environment(["src/app.py", "requirements.txt"])
    assert not touches_environment(["src/app.py", "tests/test_app.py"])


def test_not_a_python_project_needs_no_setup(tmp_path: Path) -> None:
    assert default_setup_commands(tree(tmp_path, {"README.md": "x", "main.go": "x"})) == []


def test_a_bare_pytest_project_gets_pytest(tmp_path: Path) -> None:
    checkout = tree(tmp_path, {"pytest.ini": "[pytest]\n", "tests/test_x.py": ""})
    assert default_setup_commands(checkout) == [VENV, "python -m pip install pytest"]


def test_plain_python_tests_get_pytest(tmp_path: Path) -> None:
    checkout = tree(tmp_path, {"pkg/money.py": "X = 1\n", "tests/test_money.py": ""})
    assert default_setup_commands(checkout) == [VENV, "python -m pip install pytest"]
    assert default_setup_commands(tree(tmp_path / "b", {"src/app.py": "x = 1\n"})) == []


def test_an_installable_project_is_installed_editable_with_its_test_extras(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "x"\ndependencies = ["attrs"]\n'
        '[project.optional-dependencies]\nTest = ["pytest>=8"]\ndev = ["ruff"]\ndocs = ["sphinx"]\n'
    )
    checkout = tree(tmp_path, {"pyproject.toml": pyproject})
    assert default_setup_commands(checkout) == [VENV, "python -m pip install -e '.[test,dev]'"]


def test_requirement_files_for_tests_are_installed_too(tmp_path: Path) -> None:
    checkout = tree(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "requirements.txt": "attrs\n",
            "requirements-dev.txt": "pytest==8.3\n",
            "requirements/test.txt": "hypothesis\n",
            "requirements/docs.txt": "sphinx\n",
            "docs-requirements.txt": "sphinx\n",
        },
    )
    assert default_setup_commands(checkout) == [
        VENV,
        "python -m pip install -e . -r requirements-dev.txt -r requirements.txt "
        "-r requirements/test.txt",
    ]


def test_tool_only_pyproject_and_setup_cfg_extras(tmp_path: Path) -> None:
    tools_only = tree(tmp_path / "a", {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"})
    assert default_setup_commands(tools_only) == [VENV, "python -m pip install pytest"]
    setup_cfg = "[metadata]\nname = x\n[options.extras_require]\ntesting =\n    pytest\n"
    cfg = tree(tmp_path / "b", {"setup.cfg": setup_cfg})
    assert default_setup_commands(cfg) == [VENV, "python -m pip install -e '.[testing]'"]


def test_symlinked_files_are_not_followed(tmp_path: Path) -> None:
    outside = tree(tmp_path / "outside", {"requirements.txt": "secret\n"})
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "requirements.txt").symlink_to(outside / "requirements.txt")
    assert default_setup_commands(checkout) == []
    assert dependency_files(checkout) == {}


def test_the_key_follows_dependency_files_and_commands(tmp_path: Path) -> None:
    checkout = tree(tmp_path, {"requirements.txt": "attrs\n", "src/app.py": "x = 1\n"})
    first = environment_key(REPO, ["a"], dependency_files(checkout), "")
    (checkout / "src" / "app.py").write_text("x = 2\n")  # not a dependency file
    assert environment_key(REPO, ["a"], dependency_files(checkout), "") == first
    (checkout / "requirements.txt").write_text("attrs==23.1\n")
    changed = environment_key(REPO, ["a"], dependency_files(checkout), "")
    assert changed != first
    assert environment_key(REPO, ["b"], dependency_files(checkout), "") != changed
    other = REPO.model_copy(update={"name": "other"})
    assert environment_key(other, ["a"], dependency_files(checkout), "") != changed


def test_a_setup_failure_reads_well_in_a_comment() -> None:
    failure = SetupFailure(
        command="pip install -e .", exit_code=1, output_tail="```\nERROR: boom\n", seconds=3.2
    )
    text = failure.describe()
    assert text.startswith("Setup command `pip install -e .` exited with 1 after 3s:")
    assert "````\n```\nERROR: boom\n````" in text  # a fence the output cannot close
    with pytest.raises(ValueError, match="exactly one"):
        PrepareEnvironmentResult()
