"""freeze_startup_heap: what is alive at start-up leaves the collector's sight; garbage does not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from phonicflow_common.runtime import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_start_up_objects_are_frozen_and_start_up_garbage_is_freed_first() -> None:
    kept = Node()
    garbage = weakref.ref(Node())
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert garbage() is None  # collected before the freeze, not frozen forever
    assert not any(o is kept for o in gc.get_objects(generation=2))  # frozen: out of gen 2


def test_objects_made_after_start_up_are_still_collected() -> None:
    freeze_startup_heap()
    later = weakref.ref(Node())
    gc.collect()
    assert later() is None
