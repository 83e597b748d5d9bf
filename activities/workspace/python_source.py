"""Parsing Python source from activity threads.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by all threads, so
two ``ast.parse`` calls at once in one process can fail with ``SystemError: AST constructor
recursion depth mismatch`` (python/cpython#106905). Activities parse in worker threads
(``asyncio.to_thread``) and a worker runs several at once, so every parse takes one lock.
"""

from __future__ import annotations

import ast
import threading

_PARSE = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, one thread at a time; raises what ``ast.parse`` raises."""
    with _PARSE:
        return ast.parse(source)
