"""Bulk work collects garbage less often, and the usual thresholds come back when the last block ends."""

from __future__ import annotations

import gc
import threading

from zhongtai.core.collector import BULK_THRESHOLDS, bulk_work


def test_thresholds_are_raised_while_bulk_work_runs_and_restored_after() -> None:
    usual = gc.get_threshold()
    with bulk_work():
        assert gc.get_threshold() == BULK_THRESHOLDS
    assert gc.get_threshold() == usual


def test_restored_even_when_the_work_fails() -> None:
    usual = gc.get_threshold()
    try:
        with bulk_work():
            raise RuntimeError("the pass failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == usual


def test_overlapping_work_in_threads_keeps_the_raise_until_the_last_ends() -> None:
    usual = gc.get_threshold()
    started, release = threading.Event(), threading.Event()

    def other_pass() -> None:
        with bulk_work():
            started.set()
            release.wait(10)

    worker = threading.Thread(target=other_pass)
    worker.start()
    started.wait(10)
    with bulk_work():
        pass
    assert gc.get_threshold() == BULK_THRESHOLDS  # the other pass still runs
    release.set()
    worker.join(10)
    assert gc.get_threshold() == usual
