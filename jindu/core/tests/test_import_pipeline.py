"""The import writer thread (:mod:`jindu.core.imports.pipeline`): writes kept in a deferred
block reach the database before the next statement of the import, in its transaction; a
write that fails there fails the import (nothing kept); elsewhere nothing changes."""

import sys
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from jindu.core.imports import pipeline
from jindu.core.imports.bulk import insert_rows
from jindu.core.models import AuditEvent

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the writer thread is PostgreSQL's")


def events(action, n=3, **values):
    return [AuditEvent(action=action, target_id=str(i), **values) for i in range(n)]


def count(action):
    return AuditEvent.objects.filter(action=action).count()


@on_postgresql
def test_deferred_writes_wait_for_send_then_precede_the_next_statement():
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.deferred():
            insert_rows(events("test.pipeline"))
        assert count("test.pipeline") == 0  # kept: the batch reads nothing of it
        pipeline.send()
        assert count("test.pipeline") == 3  # the statement waited for the writer
    assert count("test.pipeline") == 3


@on_postgresql
def test_the_writer_is_another_thread_on_the_same_transaction(monkeypatch):
    threads = []
    original = pipeline._Pipeline._work

    def work(self):
        threads.append(threading.current_thread())
        original(self)

    monkeypatch.setattr(pipeline._Pipeline, "_work", work)
    with transaction.atomic():
        with pipeline.pipelined():
            with pipeline.deferred():
                insert_rows(events("test.thread"))
        # Not committed yet: the rows are the transaction's, and go with its rollback.
        assert count("test.thread") == 3
        transaction.set_rollback(True)
    assert threads and threads[0] is not threading.main_thread()
    assert count("test.thread") == 0


@on_postgresql
def test_a_failed_deferred_write_fails_the_next_statement_and_nothing_is_kept():
    """A missing user is a foreign-key violation: the writer checks constraints at once
    (``SET CONSTRAINTS ALL IMMEDIATE``), so the import learns it at its next statement."""
    with pytest.raises(pipeline.DeferredWriteError) as raised:
        with transaction.atomic(), pipeline.pipelined():
            insert_rows(events("test.kept", 2))
            with pipeline.deferred():
                insert_rows(events("test.bad", 1, actor_id=987654321))
            pipeline.send()
            count("test.kept")  # not an IntegrityError: no row of the import is at fault
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert count("test.kept") == 0
    assert count("test.bad") == 0


@on_postgresql
def test_leaving_the_block_waits_for_the_writer_and_raises_its_error():
    with pytest.raises(pipeline.DeferredWriteError):
        with transaction.atomic(), pipeline.pipelined():
            with pipeline.deferred():
                insert_rows(events("test.last", 1, actor_id=987654321))
    assert count("test.last") == 0


@on_postgresql
def test_an_exception_in_a_deferred_block_drops_its_writes():
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.deferred():
            insert_rows(events("test.kept"))
        with pytest.raises(ZeroDivisionError), pipeline.deferred():
            insert_rows(events("test.dropped"))
            1 / 0
        pipeline.send()
    assert count("test.kept") == 3
    assert count("test.dropped") == 0


@on_postgresql
def test_constraints_are_deferred_again_after_the_writer():
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.deferred():
            insert_rows(events("test.mode"))
        pipeline.send()
        # Deferred again: a dangling reference is accepted by its statement (it would be
        # refused at the end of the transaction; the savepoint is rolled back before).
        sid = transaction.savepoint()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO core_auditevent (occurred_at, actor_id, actor_repr, action, target_id, "
                           "target_repr, changes, reason, request_id) VALUES (now(), 987654321, '', 'test.x', "
                           "'', '', '{}', '', '')")
        transaction.savepoint_rollback(sid)
    assert count("test.mode") == 3


@on_postgresql
def test_queued_writes_go_at_once_and_queries_run_after_them():
    """Queued rows are written without waiting for ``send``; a query handed to the writer
    sees them, and is answered while the import's own thread goes on."""
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.queued():
            insert_rows(events("test.queued"))
        later = pipeline.query("SELECT count(*) FROM core_auditevent WHERE action = %s", ["test.queued"])
        with pipeline.deferred():
            insert_rows(events("test.queued", 2))
        assert later.rows() == [(3,)]  # the deferred rows are not sent yet
        assert count("test.queued") == 3
        pipeline.send()
        assert count("test.queued") == 5


@on_postgresql
def test_a_queued_write_fails_as_a_database_error_its_savepoint_recovers_from():
    """A queued write's error is the database error a write made at once would raise (a
    row's error the import reports), raised by the next statement or query; the
    savepoint around both rolls it back and the import goes on."""
    with transaction.atomic(), pipeline.pipelined():
        insert_rows(events("test.before", 1))
        with pytest.raises(IntegrityError), transaction.atomic():
            with pipeline.queued():
                insert_rows(events("test.null", 1, actor_repr=None))  # NOT NULL: refused by the COPY
            skipped = pipeline.query("SELECT 1")
            with pipeline.deferred():
                insert_rows(events("test.dropped", 1))
                skipped.rows()  # raises, and the deferred block drops its rows
        assert count("test.before") == 1  # the transaction goes on
        pipeline.send()
    assert count("test.null") == 0 and count("test.dropped") == 0 and count("test.before") == 1


def test_without_a_pipeline_queries_and_queued_writes_run_at_once():
    with transaction.atomic():
        with pipeline.queued():
            insert_rows(events("test.now"))
        assert pipeline.query("SELECT count(*) FROM core_auditevent WHERE action = %s", ["test.now"]).rows() == [(3,)]


def test_without_a_pipeline_writes_go_at_once():
    with transaction.atomic():
        with pipeline.deferred():
            insert_rows(events("test.direct"))
        assert count("test.direct") == 3
        pipeline.send()  # nothing to send


def test_pipelined_off_or_on_sqlite_runs_the_block_as_it_is():
    with transaction.atomic(), pipeline.pipelined(enabled=False):
        assert pipeline._current() is None
    with transaction.atomic(), pipeline.pipelined():
        assert (pipeline._current() is None) == (connection.vendor != "postgresql")


def test_the_switch_interval_is_restored_when_the_last_writer_stops():
    before = sys.getswitchinterval()
    short = min(pipeline.SWITCH_INTERVAL, before)
    pipeline._switch_often(True)
    pipeline._switch_often(True)  # a second import in the same process
    assert sys.getswitchinterval() == pytest.approx(short)
    pipeline._switch_often(False)
    assert sys.getswitchinterval() == pytest.approx(short)  # the other writer still runs
    pipeline._switch_often(False)
    assert sys.getswitchinterval() == pytest.approx(before)


@on_postgresql
def test_savepoints_are_taken_by_the_writer_after_what_it_was_handed(monkeypatch):
    """The import's savepoints do not wait for the writer: they are handed to it, so a
    rollback to one keeps the deferred writes of the batches before it."""
    submitted = []
    original = pipeline._Pipeline.submit

    def submit(self, job):
        submitted.append((job.kind, job.payload[0] if job.kind == pipeline._Job.STATEMENT else None))
        return original(self, job)

    monkeypatch.setattr(pipeline._Pipeline, "submit", submit)
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.deferred():
            insert_rows(events("test.before"))
        pipeline.send()
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            with pipeline.queued():
                insert_rows(events("test.inner"))
            1 / 0
        assert count("test.before") == 3 and count("test.inner") == 0
    kinds = [kind for kind, _sql in submitted]
    assert kinds[:3] == [pipeline._Job.BATCH, pipeline._Job.STATEMENT, pipeline._Job.COPY]
    assert submitted[1][1].startswith("SAVEPOINT ")


@on_postgresql
def test_a_key_pool_hands_out_keys_reserved_ahead_in_order():
    from jindu.core.imports.bulk import KeyPool

    pool = KeyPool()
    with transaction.atomic(), pipeline.pipelined():
        pool.reserve([(AuditEvent, 3)])
        first = pool.take([(AuditEvent, 2)])[AuditEvent]
        pool.reserve([(AuditEvent, 3)])  # one left over: two more reserved
        second = pool.take([(AuditEvent, 4)])[AuditEvent]  # three held, one taken now
        keys = first + second
        assert keys == sorted(keys) and len(set(keys)) == 6
        saved = insert_rows(events("test.pool", 4), keys=second)
        assert [e.pk for e in saved] == second
        assert sorted(AuditEvent.objects.filter(action="test.pool").values_list("pk", flat=True)) == second


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="SQLite returns the keys of an insert")
def test_a_key_pool_gives_no_keys_where_inserts_return_them():
    from jindu.core.imports.bulk import KeyPool

    pool = KeyPool()
    pool.reserve([(AuditEvent, 3)])
    assert pool.take([(AuditEvent, 3)]) is None


@on_postgresql
def test_a_rollback_to_a_savepoint_drops_what_was_kept_since():
    """Rows kept by a deferred block inside a savepoint and not sent yet go with a rollback
    to it, as rows written at once would."""
    with transaction.atomic(), pipeline.pipelined():
        with pipeline.deferred():
            insert_rows(events("test.before", 1))
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            with pipeline.deferred():
                insert_rows(events("test.inside", 2))
            1 / 0
        pipeline.send()
        assert count("test.before") == 1 and count("test.inside") == 0


@on_postgresql
def test_an_exception_before_a_queued_error_is_collected_still_rolls_the_savepoint_back():
    with transaction.atomic(), pipeline.pipelined():
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            with pipeline.queued():
                insert_rows(events("test.null", 1, actor_repr=None))  # NOT NULL: refused by the COPY
            1 / 0
        assert not connection.needs_rollback
        assert count("test.null") == 0  # the transaction goes on


@on_postgresql
def test_a_failed_query_handed_over_outside_every_savepoint_fails_the_import():
    """A look-ahead is handed over between batches, outside the batches' savepoints: no
    rollback can recover from its failure."""
    with pytest.raises(pipeline.DeferredWriteError):
        with transaction.atomic(), pipeline.pipelined():
            ahead = pipeline.query("SELECT 1 / 0")
            with transaction.atomic():
                ahead.rows()


@on_postgresql
def test_the_switch_interval_is_restored_when_stopping_the_writer_raises(monkeypatch):
    before = sys.getswitchinterval()
    original = pipeline._Pipeline.stop

    def stop(self):
        original(self)
        raise KeyboardInterrupt  # e.g. a worker's SIGINT while the writer is joined

    monkeypatch.setattr(pipeline._Pipeline, "stop", stop)
    with pytest.raises(KeyboardInterrupt), transaction.atomic(), pipeline.pipelined():
        pass
    assert sys.getswitchinterval() == pytest.approx(before) and pipeline._switching["writers"] == 0
