"""Human-friendly relative times: '3 minutes ago', 'in 2 hours'."""

from importlib.metadata import PackageNotFoundError, version

from reltime.core import JUST_NOW_SECONDS, UNITS, ago, naturaldelta

try:
    __version__ = version("reltime")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["JUST_NOW_SECONDS", "UNITS", "__version__", "ago", "naturaldelta"]
