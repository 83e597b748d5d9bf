"""Autopilot as an installed package: the one name it adds to site-packages.

The application folders (``activities``, ``config``, ``devstack``, ``domain``, ``starters``,
``workers``, ``workflows``) import each other by those names. A wheel ships them inside this
package (``site-packages/autopilot/workflows/...``) so they never clash with other distributions'
``config`` or ``domain``; a checkout has them beside it. Importing ``autopilot`` puts their parent
first on ``sys.path`` so ``import workflows.issue`` finds Autopilot's own. The ``autopilot``
command (``main``) and ``python -m autopilot`` do this before anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Inside a wheel the folders sit in this package; in a checkout, next to it.
APP_ROOT = _HERE if (_HERE / "workflows").is_dir() else _HERE.parent
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))


def main() -> None:
    """The ``autopilot`` console script (starters/cli.py)."""
    from starters.cli import main as cli_main

    cli_main()
