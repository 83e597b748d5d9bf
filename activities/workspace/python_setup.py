"""The setup Autopilot detects when a repository configures none: a Python virtualenv.

A checkout is a Python project when its root holds any of ``pyproject.toml``, ``setup.py``,
``setup.cfg``, ``pytest.ini``, ``tox.ini``, ``conftest.py``, a requirements file or any other
``*.py`` file, or its ``tests/`` or ``test/`` directory holds a ``*.py`` file. Then:

1. ``python3 -m venv /autopilot/env`` (the sandbox's system Python);
2. one ``python -m pip install`` (the venv's pip) of
   - ``-e .[extras]`` when the project is installable (``pyproject.toml`` with a ``[project]``
     or ``[build-system]`` table, ``setup.py``, or ``setup.cfg`` with ``[metadata] name``),
     with those of the extras ``test``, ``tests``, ``testing``, ``dev`` it declares
     (``[project.optional-dependencies]`` or ``setup.cfg [options.extras_require]``);
   - ``-r FILE`` for ``requirements.txt``, every root ``*requirements*.txt`` whose name says
     ``test`` or ``dev``, and every ``requirements/*.txt`` whose name says so;
   - ``pytest``, unless one of those requirements already names it: the default test
     command is ``python -m pytest``.

Anything else (Poetry, uv, dependency groups, other languages) sets ``setup_command``.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from domain.sandbox import SANDBOX_ENVIRONMENT

PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")
TEST_EXTRAS = ("test", "tests", "testing", "dev")
_TEST_WORDS = ("test", "dev")
_MAX_READ_BYTES = 1_000_000
# A requirement naming pytest itself: the name, then a version, extras, marker or nothing.
_PYTEST = re.compile(r"\s*pytest\s*(?:[\[(<>=!~;@,]|$)", re.IGNORECASE)
VENV_COMMAND = f"python3 -m venv {SANDBOX_ENVIRONMENT}"


def default_setup_commands(checkout: Path) -> list[str]:
    """The detected setup commands (see the module docstring); [] when not a Python project."""
    requirements = requirement_files(checkout)
    if not requirements and not is_python_project(checkout):
        return []
    args: list[str] = []
    requirement_lines = [line for r in requirements for line in _lines(checkout / r)]
    if installable(checkout):
        pyproject, setup_cfg = _pyproject(checkout), _setup_cfg(checkout)
        declared = _extras(pyproject, setup_cfg)
        extras = [e for e in TEST_EXTRAS if e in declared]
        args += ["-e", f".[{','.join(extras)}]" if extras else "."]
        requirement_lines += _project_requirements(pyproject, setup_cfg, extras)
    for name in requirements:
        args += ["-r", name]
    if not any(_PYTEST.match(line) for line in requirement_lines):
        args.append("pytest")
    return [VENV_COMMAND, shlex.join(["python", "-m", "pip", "install", *args])]


def is_python_project(checkout: Path) -> bool:
    if any(_file(checkout / m) for m in PYTHON_MARKERS):
        return True
    return any(
        _file(p) for d in (checkout, checkout / "tests", checkout / "test") for p in _py_files(d)
    )


def _py_files(directory: Path) -> list[Path]:
    if directory.is_symlink() or not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.suffix == ".py"]


def requirement_files(checkout: Path) -> list[str]:
    """The requirements files the default setup installs, relative to the checkout, sorted."""
    found = [p.name for p in _txt_files(checkout) if _is_requirements(p.name)]
    found += [
        f"requirements/{p.name}"
        for p in _txt_files(checkout / "requirements")
        if any(w in p.name.lower() for w in _TEST_WORDS)
    ]
    return sorted(found)


def _is_requirements(name: str) -> bool:
    lower = name.lower()
    if lower == "requirements.txt":
        return True
    return "requirements" in lower and any(w in lower for w in _TEST_WORDS)


def installable(checkout: Path) -> bool:
    if _file(checkout / "setup.py"):
        return True
    pyproject = _pyproject(checkout)
    if pyproject is None and _file(checkout / "pyproject.toml"):
        return True  # unreadable: let pip say what is wrong with it
    if pyproject and ("project" in pyproject or "build-system" in pyproject):
        return True
    setup_cfg = _setup_cfg(checkout)
    return bool(setup_cfg and setup_cfg.has_option("metadata", "name"))


def _txt_files(directory: Path) -> list[Path]:
    if directory.is_symlink() or not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.suffix == ".txt" and _file(p)]


def _file(path: Path) -> bool:
    """A regular file, not a symlink: repository content must not point us elsewhere."""
    return path.is_file() and not path.is_symlink()


def _read(path: Path) -> str | None:
    if not _file(path):
        return None
    with path.open("rb") as f:
        return f.read(_MAX_READ_BYTES).decode("utf-8", errors="replace")


def _lines(path: Path) -> list[str]:
    return (_read(path) or "").splitlines()


def _pyproject(checkout: Path) -> dict[str, Any] | None:
    text = _read(checkout / "pyproject.toml")
    try:
        return tomllib.loads(text) if text is not None else None
    except tomllib.TOMLDecodeError:
        return None


def _setup_cfg(checkout: Path) -> configparser.ConfigParser | None:
    text = _read(checkout / "setup.cfg")
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _normal(extra: str) -> str:
    return re.sub(r"[-_.]+", "-", extra).lower()  # PEP 685


def _optional(pyproject: dict[str, Any] | None) -> dict[str, list[str]]:
    project = (pyproject or {}).get("project")
    optional = project.get("optional-dependencies") if isinstance(project, dict) else None
    if not isinstance(optional, dict):
        return {}
    return {
        _normal(str(k)): [str(r) for r in v] for k, v in optional.items() if isinstance(v, list)
    }


def _extras_require(setup_cfg: configparser.ConfigParser | None) -> dict[str, list[str]]:
    section = "options.extras_require"
    if setup_cfg is None or not setup_cfg.has_section(section):
        return {}
    return {_normal(k): v.split("\n") for k, v in setup_cfg.items(section)}


def _extras(
    pyproject: dict[str, Any] | None, setup_cfg: configparser.ConfigParser | None
) -> set[str]:
    return set(_optional(pyproject)) | set(_extras_require(setup_cfg))


def _project_requirements(
    pyproject: dict[str, Any] | None,
    setup_cfg: configparser.ConfigParser | None,
    extras: list[str],
) -> list[str]:
    project = (pyproject or {}).get("project")
    found = list(project.get("dependencies", [])) if isinstance(project, dict) else []
    optional = _optional(pyproject) | _extras_require(setup_cfg)
    found += [r for e in extras for r in optional.get(e, [])]
    if setup_cfg is not None and setup_cfg.has_option("options", "install_requires"):
        found += setup_cfg.get("options", "install_requires").split("\n")
    return [str(r) for r in found]
