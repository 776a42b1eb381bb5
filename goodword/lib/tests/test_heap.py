import gc
from collections.abc import Iterator

import pytest

from goodword.lib.heap import heap_settle


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settling_freezes_what_is_alive_and_leaves_new_objects_to_the_collector(
    thawed: None,
) -> None:
    # given a started process
    # when its heap is settled
    frozen = heap_settle()

    # then what was alive is out of the collector's reach, and garbage made afterwards is
    # still collected
    assert frozen == gc.get_freeze_count() > 1000
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
    assert gc.get_freeze_count() == frozen
