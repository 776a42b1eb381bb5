"""The web process's heap, once it has started.

CPython's cyclic garbage collector walks every container object it tracks whenever its oldest
generation is collected; in a started process most of them are the application itself
(modules, settings, URL patterns, templates, the ORM's models), which live as long as the
process. And it runs a young collection every 2,000 new containers, dozens of times in a
request that builds a report of thousands of rows. Measured on the advocates report at a
million deals (PostgreSQL, 2 CPUs), eight requests each: 460-700 ms by default; 456-507 ms
with the started process's objects frozen; 422-454 ms with a young collection every 50,000
new containers as well.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # new containers between young collections (CPython's default: 2,000)
OLDER = 20  # collections of a generation between two of the next (default: 10)


def heap_settle() -> int:
    """Collect what is garbage now, move every object still alive out of the collector's
    reach (gc.freeze) for the rest of the process, and collect the young generation less
    often. Call it once the process has loaded what it keeps (gunicorn's post_worker_init).
    Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)
    return gc.get_freeze_count()
