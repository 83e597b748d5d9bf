"""Recently seen ``X-Gitea-Delivery`` ids, so a replayed delivery is not processed twice.

Starting a run twice is harmless anyway (the workflow id rule joins the running run); the
record is for comment commands, where a replay would deliver a decision or a resume again.
It is in memory: a restarted receiver forgets, which only matters for replays across restarts.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 4096


class RecentDeliveries:
    """A bounded LRU set of delivery ids."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def claim(self, delivery_id: str) -> bool:
        """Record the id; False when it was already recorded (a duplicate)."""
        if delivery_id in self._ids:
            self._ids.move_to_end(delivery_id)
            return False
        self._ids[delivery_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def release(self, delivery_id: str) -> None:
        """Forget an id whose processing failed, so a redelivery is processed."""
        self._ids.pop(delivery_id, None)
