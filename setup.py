"""Packaging layout (pyproject.toml holds everything else; README, "Packaging", explains it).

A wheel ships the application folders inside the one import package ``autopilot``
(``autopilot/workflows/...``), so site-packages gains no generic top-level names; ``autopilot``
puts them on ``sys.path`` when imported. An editable install (``pip install -e .``) keeps them
top-level, mapped to this checkout, so development works from any directory as before.
"""

import sys

from setuptools import find_packages, setup

FOLDERS = ("activities", "config", "devstack", "domain", "starters", "workers", "workflows")


def _layout() -> tuple[list[str], dict[str, str]]:
    packages = find_packages(
        include=[f"{folder}{tail}" for folder in FOLDERS for tail in ("", ".*")]
    )
    if "editable_wheel" in sys.argv:
        return ["autopilot", *packages], {}
    return ["autopilot", *(f"autopilot.{p}" for p in packages)], {
        **{f"autopilot.{folder}": folder for folder in FOLDERS},
        "autopilot": "autopilot",
    }


PACKAGES, PACKAGE_DIR = _layout()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
