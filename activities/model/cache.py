"""A bounded in-process cache of validated answers, keyed by a content hash of the request.

A stage re-run with an identical request (same provider, model, messages and schema, or the
same conversation and tools) gets the earlier answer back instead of paying for it again.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass

from pydantic import BaseModel

DEFAULT_MAX_ENTRIES = 256
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class CachedAnswer:
    answer_json: str
    model: str


def cache_key(provider: str, model: str, request: BaseModel, answer_type: str) -> str:
    content = json.dumps(
        [provider, model, answer_type, request.model_dump(mode="json")],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


class AnswerCache:
    """LRU, bounded both by entry count and by the bytes of the stored answers."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> CachedAnswer | None:
        if not self.enabled:
            return None
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: str, answer: CachedAnswer) -> None:
        size = len(answer.answer_json.encode())
        if not self.enabled or size > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.answer_json.encode())
        self._entries[key] = answer
        self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.answer_json.encode())
