"""Overlap a bulk import's writes with the validation of its next rows (PostgreSQL).

An import's commit is one connection and one all-or-nothing transaction. On PostgreSQL the
registry import (:mod:`jindu.persons.importers`) spent about a quarter of its commit waiting
for the server, with the Python side idle: the ``COPY``\\ s into tables and their indexes,
and the foreign-key checks PostgreSQL runs for every inserted row (Django declares its
constraints ``DEFERRABLE INITIALLY DEFERRED``, so they ran at ``COMMIT``). Measured on the
2-core machine, 2026-11-30: of 56–59 s, the ``COPY``\\ s 9.1 s and the checks at ``COMMIT``
5.3 s.

:func:`pipelined` (the import engine wraps a bulk importer's commit in it) starts a writer
thread on the same connection for the length of the commit:

- ``COPY``\\ s made through :func:`copy_rows` inside a :func:`deferred` block are formatted
  (psycopg's own ``COPY`` text format) and kept, not sent; :func:`send` (the engine calls it
  after each batch of rows, once the importer read what the next batch needs —
  :meth:`Importer.look_ahead <jindu.core.imports.base.Importer.look_ahead>`) hands what the
  batch kept to the writer, which sends it while the main thread validates the next batch;
- the writer runs ``SET CONSTRAINTS ALL IMMEDIATE`` first and ``SET CONSTRAINTS ALL
  DEFERRED`` last, so the foreign-key checks of everything written so far (the batch's
  direct writes too) run there, off the main thread, instead of all at ``COMMIT``;
- ``COPY``\\ s made inside a :func:`queued` block are handed to the writer at once, and
  :func:`query` hands it a read whose rows the main thread asks for later
  (:meth:`Result.rows`): the registry import queues its people, then the scope re-check
  and near-duplicate look-ups, and prepares the batch's other rows meanwhile; the look-up
  of the next batch's numbers is a query too, and so is the reservation of its keys
  (:class:`jindu.core.imports.bulk.KeyPool`);
- every other statement of the main thread first waits until the writer is idle (a Django
  ``execute_wrapper``), so it sees every write handed over before it, and no two
  statements use the connection at once; a failed deferred write is raised there as
  :class:`DeferredWriteError` (the import's transaction is then rolled back), at the latest
  when the block ends, which waits for the writer;
- the savepoints of ``transaction.atomic`` (``SAVEPOINT``, ``RELEASE SAVEPOINT``) are handed
  to the writer without waiting — a savepoint first hands over what was kept, so it is taken
  after everything written before it; a rollback to one waits, and drops what was kept since
  and not sent;
- a failed queued write or query handed over inside a savepoint is raised (by the next
  statement that waits, or :meth:`Result.rows`) as the database error it is — Django's
  class: the rollback to that savepoint recovers from it as from a write made at once. One
  handed over outside every savepoint (a look-ahead) is a :class:`DeferredWriteError`. The
  writer skips what follows a failure until it is raised.

Measured on the registry import (100,000 rows, 2-core machine, 2026-11-30 afternoon): with
only deferred blocks the commit took 48.8 s, of which the main thread waited 8.5 s for its
own statements (the people's ``COPY`` 2.7 s, the near-duplicate look-ups 2.3 s, the next
batch's look-up 1.4 s, key reservations 1.2 s) and 2.8 s for the writer.

The rule for code writing in a :func:`deferred` block: nothing later in the same batch may
read what the block writes (those rows arrive after the batch), and the block's rows must
be right by themselves — a failure of the deferred writes fails the whole import, not the
batch's savepoint. Keys are taken before the rows are kept
(:func:`jindu.core.imports.bulk.insert_rows` reads the sequence; or
:func:`jindu.core.imports.bulk.reserve_keys`, several tables in one statement; or a
:class:`jindu.core.imports.bulk.KeyPool`, a batch ahead — so a newer record elsewhere may
hold a lower key), so other rows can name them.

Elsewhere (SQLite, no :func:`pipelined` block, or outside a :func:`deferred` or
:func:`queued` block) :func:`copy_rows` writes at once, :func:`query` runs at once, and
:func:`deferred`, :func:`queued` and :func:`send` do nothing.
"""

from __future__ import annotations

import queue
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from django.utils.translation import gettext as _

_local = threading.local()


class DeferredWriteError(RuntimeError):
    """The writer thread's write failed (its database error is the ``__cause__``). Not a
    ``DatabaseError``: no row is at fault, so nothing that turns a row's database error into
    a row error (the engine's row-by-row path, a bulk importer's fallback) may catch it —
    the import fails as a whole and its transaction is rolled back."""


#: Django's ``transaction.atomic`` savepoint statements, as the writer's queue sees them.
_SAVEPOINT, _RELEASE, _ROLLBACK_TO = "SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT "


class _Job:
    """One piece of the writer's work: a batch's kept ``COPY``\\ s (``deferred``), one
    ``COPY`` handed over at once (``queued``), a query whose rows the import will ask for, or
    a savepoint statement. ``recoverable``: handed over inside a savepoint (of the import's
    thread), so a rollback to it undoes a failure — a batch's writes never are (they may
    precede the savepoint in the queue)."""

    __slots__ = ("kind", "payload", "done", "rows", "error", "recoverable")

    BATCH, COPY, QUERY, STATEMENT = "batch", "copy", "query", "statement"

    def __init__(self, kind: str, payload: Any):
        self.kind = kind
        self.payload = payload
        self.done = threading.Event()
        self.rows: list[tuple] | None = None
        self.error: BaseException | None = None
        self.recoverable = False


class _Pipeline:
    """The writer thread of one connection (see the module docstring)."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.raw = connection.connection
        self.pending: list[tuple[str, bytes]] = []  # (COPY statement, its data)
        self.holding: list[list[tuple[str, bytes]]] = []
        self.queueing = 0  # depth of queued() blocks
        self.savepoints = 0  # savepoints of the import's thread open now
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.changed = threading.Condition()
        self.outstanding = 0  # jobs handed over and not done
        self.failed: _Job | None = None  # the job whose error is not raised yet
        self.thread = threading.Thread(target=self._work, name="jindu-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                if self.failed is not None:  # the transaction is aborted: skip until it is raised
                    raise self.failed.error
                with self.raw.cursor() as cursor:
                    if job.kind == _Job.QUERY:
                        cursor.execute(*job.payload)
                        job.rows = cursor.fetchall()
                    elif job.kind == _Job.STATEMENT:
                        cursor.execute(*job.payload)
                    elif job.kind == _Job.COPY:
                        with cursor.copy(job.payload[0]) as copy:
                            copy.write(job.payload[1])
                    else:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                        for sql, data in job.payload:
                            with cursor.copy(sql) as copy:
                                copy.write(data)
                        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            except BaseException as exc:  # noqa: BLE001 — raised in the main thread by wait()
                job.error = exc
                with self.changed:
                    if self.failed is None:
                        self.failed = job
            finally:
                job.done.set()
                with self.changed:
                    self.outstanding -= 1
                    self.changed.notify_all()

    def submit(self, job: _Job) -> _Job:
        job.recoverable = job.kind != _Job.BATCH and self.savepoints > 0
        with self.changed:
            self.outstanding += 1
        self.jobs.put(job)
        return job

    def wait(self) -> None:
        """Wait until the writer is idle; raise the error of a failed job (see :meth:`_raise`)."""
        with self.changed:
            self.changed.wait_for(lambda: self.outstanding == 0)
        if self.failed is not None:
            self._raise()

    def _raise(self) -> None:
        """Raise the failed job's error (the writer is idle): a queued write's or query's as
        the database error it is (Django's class; handled, and its savepoint rolled back, as
        a write made at once would be — the error is then cleared), a batch's deferred
        writes' as :class:`DeferredWriteError` (for good: the import fails)."""
        job = self.failed
        error = job.error
        if job.recoverable:
            self.failed = None
            with self.connection.wrap_database_errors:
                raise error
        try:
            with self.connection.wrap_database_errors:  # as Django's class, for the cause
                raise error
        except Exception as exc:
            raise DeferredWriteError(_("导入数据写入数据库失败，本次导入已全部撤销")) from exc

    def send(self) -> None:
        if not self.pending:
            return
        job, self.pending = self.pending, []  # after what is queued; a failure is raised by the next wait()
        self.submit(_Job(_Job.BATCH, job))

    def barrier(self, execute, sql, params, many, context):
        if many or not isinstance(sql, str):
            pass
        elif sql.startswith(_SAVEPOINT):
            # Taken by the writer, after everything kept so far is handed over (so what is
            # kept after it, in ``pending``, is all newer than any open savepoint); nothing
            # waits for it.
            self.send()
            self.savepoints += 1
            self.submit(_Job(_Job.STATEMENT, (sql, params)))
            return None
        elif sql.startswith(_RELEASE):
            self.submit(_Job(_Job.STATEMENT, (sql, params)))
            self.savepoints = max(self.savepoints - 1, 0)
            return None
        elif sql.startswith(_ROLLBACK_TO):
            # The rollback undoes a failed write handed over inside the savepoint (raised or
            # not), and the writes kept since, not sent yet.
            with self.changed:
                self.changed.wait_for(lambda: self.outstanding == 0)
            if self.failed is not None and self.failed.recoverable:
                self.failed = None
            self.pending.clear()
        self.wait()
        return execute(sql, params, many, context)

    def stop(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.outstanding == 0)
        self.jobs.put(None)
        self.thread.join()


#: The interpreter's thread switch interval while a writer runs (seconds; Python's default
#: is 0.005). The writer needs the interpreter lock for a moment between its statements,
#: and the import's thread, busy validating, otherwise holds it for the full default
#: interval each time. Measured on the registry import (100,000 rows, 2026-11-30): the
#: commit's wall time exceeded its CPU time by 6.4 s at 5 ms and by 3.6 s at 0.5 ms.
SWITCH_INTERVAL = 0.0005

_switching = {"writers": 0, "saved": None}
_switching_lock = threading.Lock()


def _switch_often(start: bool) -> None:
    """Set :data:`SWITCH_INTERVAL` while any writer of the process runs; the previous
    interval is restored when the last one stops."""
    with _switching_lock:
        if start:
            if _switching["writers"] == 0:
                _switching["saved"] = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL, _switching["saved"]))
            _switching["writers"] += 1
        else:
            _switching["writers"] -= 1
            if _switching["writers"] == 0:
                sys.setswitchinterval(_switching["saved"])


def _current() -> _Pipeline | None:
    return getattr(_local, "pipeline", None)


@contextmanager
def pipelined(enabled: bool = True) -> Iterator[None]:
    """Run the block with a writer thread on the default connection (PostgreSQL, inside a
    transaction; anywhere else, or with ``enabled`` false, the block runs as it is). Leaving
    the block waits for the writer: normally raising its error, if any; on an exception,
    dropping what was not sent yet. Not re-entrant (an inner block runs as it is)."""
    from django.db import connection

    if not enabled or connection.vendor != "postgresql" or not connection.in_atomic_block or _current() is not None:
        yield
        return
    connection.ensure_connection()
    pipe = _Pipeline(connection)
    _local.pipeline = pipe
    _switch_often(True)
    try:
        with connection.execute_wrapper(pipe.barrier):
            yield
            pipe.send()
            pipe.wait()
    finally:
        try:
            _local.pipeline = None
            pipe.pending.clear()
            pipe.stop()
        finally:
            _switch_often(False)


@contextmanager
def deferred() -> Iterator[None]:
    """Keep the :func:`copy_rows` writes of the block until :func:`send` (see the module
    docstring for what the block's code must respect). On an exception the block's writes
    are dropped. Nothing happens outside a :func:`pipelined` block."""
    pipe = _current()
    if pipe is None:
        yield
        return
    held: list[tuple[str, bytes]] = []
    pipe.holding.append(held)
    try:
        yield
    finally:
        pipe.holding.pop()
    (pipe.holding[-1] if pipe.holding else pipe.pending).extend(held)


@contextmanager
def queued() -> Iterator[None]:
    """Hand the :func:`copy_rows` writes of the block to the writer at once, without waiting
    for them: the import goes on preparing rows while the server writes. Its next statement
    that waits (not a savepoint; or :meth:`Result.rows`) waits for them, and raises their
    database error as a write made at once would, only later — so the caller's savepoint
    must enclose both. Outside a
    :func:`pipelined` block (and inside a :func:`deferred` one) nothing changes."""
    pipe = _current()
    if pipe is None:
        yield
        return
    pipe.queueing += 1
    try:
        yield
    finally:
        pipe.queueing -= 1


class Result:
    """The rows of a :func:`query`: run by the writer after what was handed to it before."""

    def __init__(self, pipe: _Pipeline | None, job: _Job | None = None, rows: list[tuple] | None = None):
        self._pipe, self._job, self._rows = pipe, job, rows

    def rows(self) -> list[tuple]:
        """The query's rows (tuples of database values, as a raw cursor returns them), once
        the writer ran it. Raises the database error (Django's class) of the query, or of a
        queued write before it; :class:`DeferredWriteError` if a batch's deferred writes failed."""
        job = self._job
        if job is not None:
            job.done.wait()
            if job.error is not None:
                self._pipe.wait()  # idle, then raises the first failure not raised yet
                with self._pipe.connection.wrap_database_errors:  # raised before, at a statement
                    raise job.error
            self._rows, self._job = job.rows, None
        return self._rows


def query(sql: str, params: Sequence[Any] = ()) -> Result:
    """Run ``sql`` (``%s`` placeholders, values as the database takes them — as
    ``QuerySet.query.sql_with_params()`` gives them) by the writer, after everything
    handed to it so far: a read the import needs only later (what the next batch looks
    up), sent now. Without a :func:`pipelined` block it runs at once. Returns a
    :class:`Result`."""
    from django.db import connection

    pipe = _current()
    if pipe is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return Result(None, rows=cursor.fetchall())
    return Result(pipe, pipe.submit(_Job(_Job.QUERY, (sql, list(params)))))


def send() -> None:
    """Hand the writes kept so far to the writer, after what it was handed before (without
    waiting: a failure is raised by the next statement that waits)."""
    pipe = _current()
    if pipe is not None:
        pipe.send()


def _copy_text(rows: Sequence[Sequence[Any]], raw: Any) -> bytes:
    """``rows`` in ``COPY``'s text format, as psycopg's ``Copy.write_row`` sends them (its own
    formatter and the connection's adapters): formatted here, in the import's thread, so the
    writer thread only sends bytes — formatting there, a row at a time, it competed with the
    validation for Python's interpreter lock and took longer than the validation (measured
    on the registry import, 2026-11-30: the writer's work 46 s of a 103 s commit)."""
    from psycopg._copy_base import TextFormatter  # psycopg is pinned (requirements.txt)
    from psycopg.adapt import Transformer

    formatter = TextFormatter(Transformer.from_context(raw), encoding=raw.info.encoding)
    out = bytearray()
    for row in rows:
        out += formatter.write_row(row)
    out += formatter.end()
    return bytes(out)


def copy_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``COPY`` ``rows`` (values as the database takes them, in ``columns`` order) into
    ``table`` on PostgreSQL: at once, or kept for the writer inside a :func:`deferred`
    block. Database errors are raised as Django's classes (``IntegrityError``…)."""
    from django.db import connection

    if not rows:
        return
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    pipe = _current()
    if pipe is not None:
        if pipe.holding:
            pipe.holding[-1].append((sql, _copy_text(rows, pipe.raw)))
            return
        if pipe.queueing:
            pipe.submit(_Job(_Job.COPY, (sql, _copy_text(rows, pipe.raw))))
            return
        pipe.wait()  # the raw COPY below passes no execute_wrapper
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
