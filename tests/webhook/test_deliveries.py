"""Replayed delivery ids are recognised; the record stays bounded."""

from __future__ import annotations

import pytest

from starters.webhook.deliveries import RecentDeliveries


def test_second_claim_of_an_id_is_a_duplicate() -> None:
    recent = RecentDeliveries()
    assert recent.claim("a") is True
    assert recent.claim("a") is False
    assert recent.claim("b") is True


def test_oldest_ids_are_forgotten_beyond_capacity() -> None:
    recent = RecentDeliveries(capacity=2)
    for delivery_id in ("a", "b", "c"):
        assert recent.claim(delivery_id)
    assert len(recent) == 2
    assert recent.claim("a") is True  # evicted, so new again
    assert recent.claim("c") is False


def test_a_recently_seen_id_is_kept_over_older_ones() -> None:
    recent = RecentDeliveries(capacity=2)
    recent.claim("a")
    recent.claim("b")
    assert recent.claim("a") is False  # touching "a" makes "b" the oldest
    recent.claim("c")
    assert recent.claim("a") is False
    assert recent.claim("b") is True


def test_released_id_can_be_processed_again() -> None:
    recent = RecentDeliveries()
    recent.claim("a")
    recent.release("a")
    assert recent.claim("a") is True


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RecentDeliveries(capacity=0)
