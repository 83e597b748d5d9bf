"""A fault-injecting reverse proxy for the dev stack's forge and model traffic.

``plan``: which requests meet which fault (seeded, deterministic, with budgets);
``proxy``: the aiohttp proxy carrying a plan out, as a context manager for tests.
"""

from devstack.faults.plan import WRITES, Fault, FaultKind, FaultPlan, FaultRule
from devstack.faults.proxy import FaultProxy, running_proxy

__all__ = ["WRITES", "Fault", "FaultKind", "FaultPlan", "FaultProxy", "FaultRule", "running_proxy"]
