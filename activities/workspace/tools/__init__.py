"""The implementer's tools on a checkout: view, create, str_replace, insert, search, run, finish."""

from activities.workspace.tools.command import Commands
from activities.workspace.tools.toolbox import Toolbox

__all__ = ["Commands", "Toolbox"]
