"""gunicorn settings for `goodword serve`."""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    """A web process, once started, builds whom to ask for's copies of every prospect in
    threads, so that its first ask does not wait seconds for them."""
    from goodword.referrals.peers import peers_cache_warm

    peers_cache_warm()
