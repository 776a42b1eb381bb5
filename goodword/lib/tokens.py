"""Random secrets that are shown once and stored only as a hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.db import models
from django.utils import timezone


def new_secret(prefix_length: int = 8) -> tuple[str, str, str]:
    """Return (whole key, visible prefix, sha256 hex of the whole key).

    The key is 'gw_' + prefix + '_' + 32 random bytes in URL-safe base64; 256 bits of entropy
    make a fast hash safe to store (no password stretching needed, unlike a chosen password).
    """
    prefix = secrets.token_hex(prefix_length // 2)
    key = f"gw_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_secret(key)


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "gw" or not parts[1]:
        return None
    return parts[1]


def typed_prefix(value: str) -> str:
    """The prefix in what someone typed to name a key: the prefix alone, or the whole key."""
    return value.strip().removeprefix("gw_").split("_")[0]


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def record_use(model: type[models.Model], row: Any) -> None:
    """Set a key's last_used_at, at most once a minute per key rather than on every request."""
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        model._default_manager.filter(pk=row.pk).update(last_used_at=now)
