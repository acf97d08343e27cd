"""After start-up the server's long-lived objects are frozen out of the cyclic collector's walks (the
collector itself stays on), and given back at shutdown."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from zhongtai.app import create_app
from zhongtai.core import heap
from zhongtai.core.settings import Settings


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_freezes_what_exists_and_leaves_the_collector_on() -> None:
    assert gc.get_freeze_count() == 0
    heap.settle()
    assert gc.get_freeze_count() > 0 and gc.isenabled()
    made_after = [[n] for n in range(1000)]  # new objects are still tracked and collectable
    assert gc.is_tracked(made_after[0])


def test_the_server_settles_its_heap_at_start_up_and_releases_it_at_shutdown(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert gc.get_freeze_count() > 0
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0  # the app's own cycles can be collected once it is gone


def test_a_paused_batch_turns_the_collector_back_on_only_if_it_was_on() -> None:
    with heap.paused():
        assert not gc.isenabled()
        with heap.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner batch leaves it to the outer one
    assert gc.isenabled()
    gc.disable()
    try:
        with heap.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError), heap.paused():
        raise ValueError("a failed batch")
    assert gc.isenabled()
