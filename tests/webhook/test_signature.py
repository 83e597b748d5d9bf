"""Gitea's HMAC-SHA256 hex signature over the raw body."""

from __future__ import annotations

import hashlib
import hmac

from starters.webhook.signature import sign, verify

SECRET = b"webhook-secret"
BODY = b'{"action":"label_updated","number":3}'


def test_matches_the_reference_computation() -> None:
    # gitea-notes §4: hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()


def test_good_signature_verifies() -> None:
    assert verify(SECRET, BODY, sign(SECRET, BODY))
    assert verify(SECRET, BODY, sign(SECRET, BODY).upper())  # hex is case-insensitive


def test_bad_missing_and_empty_signatures_fail() -> None:
    assert not verify(SECRET, BODY, sign(b"other-secret", BODY))
    assert not verify(SECRET, BODY, None)
    assert not verify(SECRET, BODY, "")
    assert not verify(SECRET, BODY, "sha256=" + sign(SECRET, BODY))


def test_body_altered_by_one_byte_fails() -> None:
    signature = sign(SECRET, BODY)
    altered = BODY[:-2] + b"4}"
    assert len(altered) == len(BODY) and altered != BODY
    assert not verify(SECRET, altered, signature)
