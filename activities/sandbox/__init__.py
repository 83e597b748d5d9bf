"""Confinement for repository code: bubblewrap namespaces, read-only system, resource limits."""

from activities.sandbox.bwrap import SandboxRequest
from activities.sandbox.process import OUTPUT_TAIL_CHARS, ProcessResult
from activities.sandbox.runner import Sandbox

__all__ = ["OUTPUT_TAIL_CHARS", "ProcessResult", "Sandbox", "SandboxRequest"]
