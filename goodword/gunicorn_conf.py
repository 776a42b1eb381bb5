"""gunicorn settings for `goodword serve`."""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    """A web process, once started, settles its heap (goodword.lib.heap: the collector no
    longer walks the application's own objects on every full collection), then builds whom
    to ask for's copies of every prospect in threads, so that its first ask does not wait
    seconds for them."""
    from goodword.lib.heap import heap_settle
    from goodword.referrals.peers import peers_cache_warm

    heap_settle()
    peers_cache_warm()
