import gc
from collections.abc import Iterator

import pytest

from goodword.lib.heap import OLDER, YOUNG, heap_settle


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_what_is_alive_and_leaves_new_objects_to_the_collector(
    restored: None,
) -> None:
    # given a started process
    # when its heap is settled
    frozen = heap_settle()

    # then what was alive is out of the collector's reach, young collections come less
    # often, and garbage made afterwards is still collected
    assert frozen == gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (YOUNG, OLDER, OLDER)
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
    assert gc.get_freeze_count() == frozen
