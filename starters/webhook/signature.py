"""Gitea's webhook signature: lowercase hex HMAC-SHA256 of the raw body, keyed by the secret."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the body's HMAC; an empty or missing one never is."""
    if not signature:
        return False
    # Constant-time, so the answer time does not leak how much of a forgery was right.
    return hmac.compare_digest(sign(secret, body), signature.strip().lower())
