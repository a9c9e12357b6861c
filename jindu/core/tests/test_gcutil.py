"""The relaxed garbage collector of batch work (:mod:`jindu.core.gcutil`)."""

import gc
import threading

from jindu.core.gcutil import BATCH_THRESHOLD, relaxed_gc


class _Cycle:
    def __init__(self):
        self.me = self


def test_relaxed_inside_restored_after_even_on_error():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    try:
        with relaxed_gc():
            assert gc.get_threshold()[0] == max(BATCH_THRESHOLD, before[0])
            assert gc.get_freeze_count() > frozen
            with relaxed_gc():  # nested: one relaxation
                assert gc.get_threshold()[0] == max(BATCH_THRESHOLD, before[0])
            assert gc.get_threshold()[0] == max(BATCH_THRESHOLD, before[0])
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_cycles_made_inside_are_still_collected():
    import weakref

    with relaxed_gc():
        probe = weakref.ref(_Cycle())
        gc.collect()
        assert probe() is None


def test_overlapping_blocks_in_threads_restore_the_original_once():
    before = gc.get_threshold()
    entered, release = threading.Barrier(2), threading.Event()

    def first():
        with relaxed_gc():
            entered.wait()
            release.wait()

    t = threading.Thread(target=first)
    t.start()
    with relaxed_gc():
        entered.wait()
        release.set()
        t.join()  # the other block ended first: still relaxed here
        assert gc.get_threshold()[0] == max(BATCH_THRESHOLD, before[0])
    assert gc.get_threshold() == before
