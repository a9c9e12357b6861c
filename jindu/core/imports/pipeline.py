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
- every statement of the main thread first waits until the writer is idle (a Django
  ``execute_wrapper``), so it sees every write handed over before it, and the connection
  is never used by two threads at once; an error of the writer is raised there as
  :class:`DeferredWriteError` (the import's transaction is then rolled back), at the latest
  when the block ends, which waits for the writer.

The rule for code writing in a :func:`deferred` block: nothing later in the same batch may
read what the block writes (those rows arrive after the batch), and the block's rows must
be right by themselves — a failure of the deferred writes fails the whole import, not the
batch's savepoint. Keys are still taken at once (:func:`jindu.core.imports.bulk.insert_rows`
reads the sequence), so other rows can name them.

Elsewhere (SQLite, no :func:`pipelined` block, or outside a :func:`deferred` block)
:func:`copy_rows` writes at once and :func:`deferred` and :func:`send` do nothing.
"""

from __future__ import annotations

import queue
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


class _Pipeline:
    """The writer thread of one connection (see the module docstring)."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.raw = connection.connection
        self.pending: list[tuple[str, bytes]] = []  # (COPY statement, its data)
        self.holding: list[list[tuple[str, bytes]]] = []
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = threading.Event()
        self.idle.set()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="jindu-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                with self.raw.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    for sql, data in job:
                        with cursor.copy(sql) as copy:
                            copy.write(data)
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            except BaseException as exc:  # noqa: BLE001 — raised in the main thread by wait()
                self.error = exc
            finally:
                self.idle.set()

    def wait(self) -> None:
        """Wait until the writer is idle; raise :class:`DeferredWriteError` if it failed."""
        self.idle.wait()
        if self.error is not None:
            try:
                with self.connection.wrap_database_errors:  # as Django's class, for the cause
                    raise self.error
            except Exception as exc:
                raise DeferredWriteError(_("导入数据写入数据库失败，本次导入已全部撤销")) from exc

    def send(self) -> None:
        if not self.pending:
            return
        self.wait()
        job, self.pending = self.pending, []
        self.idle.clear()
        self.jobs.put(job)

    def barrier(self, execute, sql, params, many, context):
        self.wait()
        return execute(sql, params, many, context)

    def stop(self) -> None:
        self.idle.wait()
        self.jobs.put(None)
        self.thread.join()


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
    try:
        with connection.execute_wrapper(pipe.barrier):
            yield
            pipe.send()
            pipe.wait()
    finally:
        _local.pipeline = None
        pipe.pending.clear()
        pipe.stop()


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


def send() -> None:
    """Hand the writes kept so far to the writer (after waiting for its previous work)."""
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
        pipe.wait()  # the raw COPY below passes no execute_wrapper
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
